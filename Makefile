# koinonia.fleet — the two commands a newcomer needs: `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV        := .venv
PY          := $(VENV)/bin/python
COLL_LINK   := .collections/ansible_collections/koinonia/fleet
SCENARIOS   ?= app_tier standalone data_tier nginx_lb
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.collections
export ANSIBLE_FORCE_COLOR := $(if $(CI),0,1)
export PY_COLORS := $(if $(CI),0,1)

.PHONY: help setup docker image release lint unit build molecule test demo demo-down migrate-demo migrate-demo-down bench clean-image lock

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt requirements.lock
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -c requirements.lock
	touch $@

$(COLL_LINK):
	mkdir -p $(dir $@)
	ln -sfn ../../.. $@

setup: $(VENV)/.installed $(COLL_LINK) ## Python venv (pinned) and the koinonia.fleet collection link
	@# A copy of this collection left in ~/.ansible by older molecule runs would shadow the checkout.
	rm -rf $(HOME)/.ansible/collections/ansible_collections/koinonia/fleet

docker: ## make sure a Docker engine answers (installs docker.io, starts dockerd)
	bash scripts/ensure-docker.sh

image: docker ## build the Debian 12 systemd test image once
	bash scripts/build-image.sh

clean-image: docker ## rebuild the test image from scratch
	bash scripts/build-image.sh --force

release: ## build the release artifacts on the controller: the app, PM2 and Datadog's tracer (npm ci, tarball)
	bash scripts/build-release.sh >/dev/null
	RELEASE_SOURCE=runtime/pm2 RELEASE_NAME=pm2 bash scripts/build-release.sh >/dev/null
	RELEASE_SOURCE=runtime/dd-trace RELEASE_NAME=dd-trace bash scripts/build-release.sh >/dev/null

lint: setup ## yamllint, ansible-lint (production profile), ruff, changelog, role variables documented in agreement, the production inventory, ansible-test sanity
	yamllint --strict .
	ansible-lint --offline
	ruff check .
	antsibull-changelog lint
	$(PY) scripts/check-role-specs.py
	@# The production example parses, its vault opens with the example's throwaway password.
	ansible-inventory -i inventories/production/hosts.yml --graph \
	  --vault-password-file inventories/production/example-vault-password.txt >/dev/null
	bash scripts/ansible-test.sh sanity

unit: setup ## unit tests (ansible-test units): filters, modules and the load tool; the alert rules with promtool
	bash scripts/ansible-test.sh units
	ansible-playbook -i localhost, tests/prometheus/rules.yml

build: setup ## build the collection tarball and check what it holds
	bash scripts/check-build.sh

molecule: setup image release ## the molecule scenarios, one after another
	for s in $(SCENARIOS); do echo "=== molecule test -s $$s"; molecule test -s $$s; done

test: setup image release ## everything CI runs: the checks alongside app_tier's converge, then every scenario (scripts/test.sh)
	SCENARIOS="$(SCENARIOS)" bash scripts/test.sh

demo: setup image release ## bring up a local fleet in containers and roll the stack out
	bash scripts/demo.sh

demo-down: setup docker ## remove the local fleet
	ansible-playbook playbooks/local_fleet.yml -e fleet_local_state=absent

migrate-demo: setup image release ## replay the migration from one server to the fleet, over SSH, under load; left running
	bash scripts/migrate-demo.sh

migrate-demo-down: setup docker ## remove the migration replay's fleet
	molecule destroy -s app_tier

bench: setup ## measure the demo fleet (make demo first): build/bench/report.md and chart.png; SOAK=600 adds a soak
	$(PY) -c 'import matplotlib' 2>/dev/null || $(PY) -m pip install --quiet -r scripts/bench/requirements.txt
	$(PY) scripts/bench/bench.py

lock: ## regenerate requirements.lock from requirements.txt
	rm -rf /tmp/koinonia-lock && python3 -m venv /tmp/koinonia-lock
	/tmp/koinonia-lock/bin/pip install --quiet -r requirements.txt
	/tmp/koinonia-lock/bin/pip freeze --all | grep -vE '^(pip|setuptools|wheel)==' > requirements.lock
