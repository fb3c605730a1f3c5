'use strict';
// koinonia-api migrations: run once per deploy, on one backend, by koinonia.fleet.backend_node
// (backend_node_migrate_command). Uses DIRECT_DATABASE_URL, straight to PostgreSQL, as
// Prisma's `migrate deploy` must: schema changes and advisory locks do not survive
// PgBouncer's transaction pooling. Idempotent: a version already applied is not applied again.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { Client } = require('pg');

const MIGRATIONS = [
  ['0001_messages', `CREATE TABLE IF NOT EXISTS messages (
      id bigserial PRIMARY KEY, body text NOT NULL, host text NOT NULL,
      created_at timestamptz DEFAULT now())`],
  ['0002_messages_created_at', 'CREATE INDEX IF NOT EXISTS messages_created_at ON messages (created_at)'],
];

function log(event, fields = {}) {
  process.stdout.write(JSON.stringify({ time: new Date().toISOString(), event, ...fields }) + '\n');
}

async function main() {
  const url = process.env.DIRECT_DATABASE_URL;
  if (!url) throw new Error('DIRECT_DATABASE_URL is not set');
  let release = null;
  try { release = fs.readFileSync(path.join(__dirname, 'RELEASE'), 'utf8').trim(); } catch { /* no RELEASE */ }
  const client = new Client({ connectionString: url, application_name: 'koinonia-api-migrate' });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock(7262021)'); // one migrator at a time
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        name text PRIMARY KEY, release text, host text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query('SELECT name FROM schema_migrations');
    const done = new Set(rows.map((r) => r.name));
    for (const [name, sql] of MIGRATIONS) {
      if (done.has(name)) continue;
      await client.query('BEGIN');
      await client.query(sql);
      await client.query('INSERT INTO schema_migrations (name, release, host) VALUES ($1, $2, $3)',
        [name, release, os.hostname()]);
      await client.query('COMMIT');
      log('migration_applied', { name, release });
    }
    await client.query(`CREATE TABLE IF NOT EXISTS deploys (
        release text NOT NULL, host text NOT NULL, migrated_at timestamptz NOT NULL DEFAULT now())`);
    await client.query('INSERT INTO deploys (release, host) VALUES ($1, $2)', [release, os.hostname()]);
    log('migrations_done', { release, applied: MIGRATIONS.length - done.size });
  } finally {
    await client.end();
  }
}

main().catch((err) => { log('migration_failed', { error: err.message }); process.exit(1); });
