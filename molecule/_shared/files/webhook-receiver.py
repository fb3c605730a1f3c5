#!/usr/bin/python3
"""A stand-in for Slack's incoming webhook: appends each POSTed JSON body as one line to
/var/lib/webhook-receiver/received.jsonl and answers 200 "ok". GET serves the files under
/var/lib/webhook-receiver/www: the stand-in for Datadog's key server and APT repository
(molecule/_shared/files/apt-standin.sh)."""
import json
import os
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

OUT = '/var/lib/webhook-receiver/received.jsonl'
WWW = '/var/lib/webhook-receiver/www'


class Hook(SimpleHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
        try:
            record = json.loads(body)
        except ValueError:
            self.send_error(400, 'JSON body expected')
            return
        with open(OUT, 'a', encoding='utf-8') as out:
            out.write(json.dumps({'path': self.path, 'from': self.client_address[0], 'body': record}) + '\n')
        self.send_response(200)
        self.send_header('Content-Type', 'text/plain')
        self.end_headers()
        self.wfile.write(b'ok')


os.makedirs(WWW, exist_ok=True)
ThreadingHTTPServer(('0.0.0.0', 9000), partial(Hook, directory=WWW)).serve_forever()
