'use strict';
// koinonia-api: reference backend for the koinonia.fleet collection.
// Express + PostgreSQL (through PgBouncer, transaction pooling) + Redis.
const fs = require('fs');
const os = require('os');
const path = require('path');
const express = require('express');
const { Pool } = require('pg');
const { createClient } = require('redis');
const promClient = require('prom-client');

const env = process.env;
const PORT = parseInt(env.PORT || '3000', 10);
const HOST = env.HOST || '0.0.0.0';
const APP_NAME = env.APP_NAME || 'koinonia-api';
const HOSTNAME = os.hostname();
const CHECK_TIMEOUT_MS = 2000;
// Every request is answered within REQUEST_DEADLINE_MS (503 after that), and a database call
// (pool wait included) gives up after DB_TIMEOUT_MS. The load balancer's proxy_read_timeout is
// longer, so a backend that does not answer in time is hung itself, not waiting on a shared
// dependency.
const DB_TIMEOUT_MS = parseInt(env.DB_TIMEOUT_MS || '3000', 10);
const REQUEST_DEADLINE_MS = parseInt(env.REQUEST_DEADLINE_MS || '4000', 10);
// Prometheus metrics, when METRICS_PORT is set: each PM2 worker serves its own on METRICS_PORT plus
// its NODE_APP_INSTANCE (0, 1, ...), at METRICS_HOST (the private address; default HOST).
const METRICS_PORT = parseInt(env.METRICS_PORT || '0', 10);
const METRICS_HOST = env.METRICS_HOST || HOST;
const WORKER = parseInt(env.NODE_APP_INSTANCE || '0', 10) || 0;
// Debug lines are kept at this rate (0 to 1); errors and request lines always.
const DEBUG_SAMPLE = Math.min(Math.max(parseFloat(env.LOG_DEBUG_SAMPLE || '0.1'), 0), 1);
// The release on disk names the version, so /health tells which code a worker really runs.
const VERSION = readRelease() || env.APP_VERSION || require('./package.json').version;

function readRelease() { // RELEASE is written by scripts/build-release.sh
  try { return fs.readFileSync(path.join(__dirname, 'RELEASE'), 'utf8').trim() || null; } catch { return null; }
}
function log(event, fields = {}, level = 'info') {
  process.stdout.write(JSON.stringify({ time: new Date().toISOString(), level, event, ...fields }) + '\n');
}
function debug(event, fields = {}) { // sampled: a busy fleet does not drown its log host
  if (DEBUG_SAMPLE > 0 && Math.random() < DEBUG_SAMPLE) log(event, fields, 'debug');
}
function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ---- PostgreSQL -----------------------------------------------------------
// Prisma-style URL parameters are not libpq ones: strip them and map them to Pool options.
function makePool(url, role) {
  if (!url) return null;
  let u;
  try { u = new URL(url); } catch {
    log('config_error', { error: `${role} database URL is not a valid URL` }); // never echo the URL
    process.exit(1);
  }
  const max = parseInt(u.searchParams.get('connection_limit'), 10);
  const poolTimeout = parseFloat(u.searchParams.get('pool_timeout'));
  for (const k of ['connection_limit', 'pool_timeout', 'pgbouncer']) u.searchParams.delete(k);
  const pool = new Pool({
    connectionString: u.toString(),
    application_name: APP_NAME,
    max: max > 0 ? max : 10,
    // Prisma's pool_timeout, but never longer than a database call may take: a query still
    // waiting for a connection after its caller gave up must not run later.
    connectionTimeoutMillis: Math.min(poolTimeout > 0 ? poolTimeout * 1000 : DB_TIMEOUT_MS, DB_TIMEOUT_MS),
    query_timeout: DB_TIMEOUT_MS,
    idleTimeoutMillis: 30000,
  });
  pool.on('error', (err) => log('pg_pool_error', { pool: role, error: err.message }));
  return pool;
}
const primary = makePool(env.DATABASE_URL, 'primary');
const replica = makePool(env.DATABASE_REPLICA_URL, 'replica') || primary;

// Plain parameterized queries only (no `name`): safe with PgBouncer transaction pooling.
function tagged(type) { // the error_type of a request line and of koinonia_http_requests_total
  return (err) => { if (err && typeof err === 'object' && !err.errorType) err.errorType = type; throw err; };
}
function query(pool, text, params = [], ms = DB_TIMEOUT_MS) {
  if (!pool) return Promise.reject(new Error('DATABASE_URL is not set'));
  return withTimeout(pool.query(text, params), ms, 'database query').catch(tagged('database'));
}

let schemaReady = null; // created lazily; retried on next use after a failure
function ensureSchema() {
  schemaReady = schemaReady || query(primary, `CREATE TABLE IF NOT EXISTS messages (
      id bigserial PRIMARY KEY, body text NOT NULL, host text NOT NULL,
      created_at timestamptz DEFAULT now())`)
    .catch((err) => {
      if (err.code === '42P07' || err.code === '23505') return; // another instance won the race
      schemaReady = null;
      throw err;
    });
  return schemaReady;
}
function recreateSchema() { // the table vanished under us (database recreated): forget the memo
  schemaReady = null;
  return ensureSchema();
}

// ---- Redis ----------------------------------------------------------------
// Connected on first use; reconnects for ever with a backoff capped at 500 ms, so a Redis
// restart costs at most half a second after Redis is back. Errors are logged, never thrown.
let redis = null; // { client, error }: error is the client's last error while not ready
function getRedis() {
  if (!env.REDIS_URL) throw new Error('REDIS_URL is not set');
  if (redis && redis.client.isOpen) return redis;
  const state = {
    client: createClient({
      url: env.REDIS_URL,
      socket: {
        connectTimeout: CHECK_TIMEOUT_MS,
        reconnectStrategy: (n) => Math.min(50 * 2 ** n, 500),
      },
    }),
    error: null,
  };
  state.client.on('error', (err) => {
    if (err.message !== state.error) log('redis_error', { error: err.message });
    state.error = err.message;
  });
  state.client.on('ready', () => { state.error = null; log('redis_ready'); });
  state.client.connect().catch(() => {}); // failure already reported through 'error'
  return (redis = state);
}
function redisCall(what, fn) {
  const { client, error } = getRedis();
  if (!client.isReady && error) {
    return Promise.reject(Object.assign(new Error(`redis unavailable: ${error}`), { errorType: 'redis' })); // fail fast
  }
  return withTimeout(fn(client), CHECK_TIMEOUT_MS, `redis ${what}`).catch(tagged('redis'));
}
const redisPing = () => redisCall('PING', (c) => c.ping());

// ---- Metrics --------------------------------------------------------------
// Requests by route (the Express route, never the raw path: ids would explode the series) and
// status, their latency, each pool's connections in use and callers waiting for one, and the
// backlog of the job queue (a Redis list).
const registry = new promClient.Registry();
promClient.collectDefaultMetrics({ register: registry });
const httpRequests = new promClient.Counter({
  name: 'koinonia_http_requests_total', help: 'HTTP requests answered, by route and status.',
  labelNames: ['method', 'route', 'status'], registers: [registry],
});
const httpDuration = new promClient.Histogram({
  name: 'koinonia_http_request_duration_seconds', help: 'HTTP response time, by route.',
  labelNames: ['route'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [registry],
});
const pools = () => [['primary', primary], ['replica', replica === primary ? null : replica]].filter(([, p]) => p);
new promClient.Gauge({ // eslint-disable-line no-new
  name: 'koinonia_db_pool_in_use', help: 'Database connections of this worker in use, by pool.',
  labelNames: ['pool'], registers: [registry],
  collect() { for (const [name, p] of pools()) this.set({ pool: name }, p.totalCount - p.idleCount); },
});
new promClient.Gauge({ // eslint-disable-line no-new
  name: 'koinonia_db_pool_waiting', help: 'Queries of this worker waiting for a database connection, by pool.',
  labelNames: ['pool'], registers: [registry],
  collect() { for (const [name, p] of pools()) this.set({ pool: name }, p.waitingCount); },
});
const QUEUES = (env.QUEUES || 'messages').split(',').map((q) => q.trim()).filter(Boolean);
new promClient.Gauge({ // eslint-disable-line no-new
  name: 'koinonia_queue_backlog_jobs', help: 'Jobs waiting in each queue (Redis list koinonia:queue:<name>).',
  labelNames: ['queue'], registers: [registry],
  async collect() {
    for (const queue of QUEUES) {
      try {
        this.set({ queue }, await redisCall('LLEN', (c) => c.lLen(`koinonia:queue:${queue}`)));
      } catch { this.remove({ queue }); } // unknown is no series, not 0
    }
  },
});
// Under PM2's cluster mode the listening socket is the cluster's: during a reload the worker that
// replaces another shares its port with it for a moment (a scrape may then see either one).
function serveMetrics() {
  if (!(METRICS_PORT > 0) || shuttingDown) return;
  const port = METRICS_PORT + WORKER;
  const metricsServer = require('http').createServer(async (req, res) => {
    if (req.url !== '/metrics') { res.writeHead(404).end(); return; }
    try {
      const body = await registry.metrics();
      res.writeHead(200, { 'Content-Type': registry.contentType }).end(body);
    } catch (err) { res.writeHead(500).end(String(err && err.message)); }
  });
  metricsServer.on('error', (err) => log('metrics_error', { port, error: err.message }, 'error'));
  metricsServer.listen(port, METRICS_HOST, () => { metricsListener = metricsServer; debug('metrics_listening', { port }); });
}
let metricsListener = null;

// ---- HTTP -----------------------------------------------------------------
const app = express();
app.disable('x-powered-by');
let shuttingDown = false;
app.use((req, res, next) => {
  const start = process.hrtime.bigint();
  if (shuttingDown) res.set('Connection', 'close');
  res.on('finish', () => {
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const route = req.route ? req.baseUrl + req.route.path : 'unmatched';
    httpRequests.inc({ method: req.method, route, status: res.statusCode });
    httpDuration.observe({ route }, seconds);
    if (req.path === '/health' || req.path.startsWith('/health/')) return;
    // One line per request: what the log host's search finds it by (request id, church id,
    // error type, time), and what it was.
    log('request', {
      method: req.method, path: req.path, route, status: res.statusCode,
      duration_ms: Math.round(seconds * 1e4) / 10,
      request_id: req.get('x-request-id') || null,
      church_id: req.get('x-church-id') || null,
      error_type: res.locals.errorType || (res.statusCode >= 500 ? 'server_error' : null),
    }, res.statusCode >= 500 ? 'error' : 'info');
  });
  next();
});
// The request deadline: answer 503 rather than keep the load balancer waiting; whatever the
// handler sends later is dropped.
app.use((req, res, next) => {
  const timer = setTimeout(() => {
    if (res.headersSent) return;
    log('deadline_exceeded', { method: req.method, path: req.path, deadline_ms: REQUEST_DEADLINE_MS }, 'error');
    res.locals.errorType = 'deadline';
    res.status(503).json({ error: 'deadline exceeded' });
  }, REQUEST_DEADLINE_MS);
  res.on('close', () => clearTimeout(timer));
  const json = res.json.bind(res);
  res.json = (body) => (res.headersSent ? res : json(body));
  next();
});
app.use(express.json({ limit: '16kb' }));

app.get('/health', (req, res) => res.json({ status: 'ok', host: HOSTNAME, version: VERSION, pid: process.pid }));
app.get('/api/whoami', (req, res) => res.json({ host: HOSTNAME, version: VERSION }));

async function check(fn) {
  const start = Date.now();
  try {
    const details = await fn();
    return { ok: true, latency_ms: Date.now() - start, ...details };
  } catch (err) {
    return { ok: false, latency_ms: Date.now() - start, error: err.message };
  }
}
app.get('/health/detailed', async (req, res) => {
  const [database, redisCheck] = await Promise.all([
    check(async () => {
      const { rows } = await query(primary, "SELECT current_setting('application_name') AS application_name, " +
        'inet_server_addr()::text AS server_addr, now() AS now', [], CHECK_TIMEOUT_MS);
      return { application_name: rows[0].application_name, server_addr: rows[0].server_addr };
    }),
    check(async () => ({ reply: await redisPing() })),
  ]);
  const ok = database.ok && redisCheck.ok;
  if (!ok) res.set('Retry-After', '1');
  res.status(ok ? 200 : 503).json({
    status: ok ? 'ok' : 'degraded', host: HOSTNAME, version: VERSION, pid: process.pid,
    checks: { database, redis: redisCheck },
  });
});

app.post('/api/messages', async (req, res, next) => {
  const body = req.body && req.body.body;
  if (typeof body !== 'string' || body.trim() === '') {
    return res.status(400).json({ error: 'JSON body {"body": "<non-empty string>"} required' });
  }
  try {
    const insert = () => query(primary,
      'INSERT INTO messages (body, host) VALUES ($1, $2) RETURNING id, body, host, created_at', [body, HOSTNAME]);
    await ensureSchema();
    const { rows } = await insert().catch(async (err) => {
      if (err.code !== '42P01') throw err;
      await recreateSchema();
      return insert();
    });
    res.status(201).json(rows[0]);
  } catch (err) { next(err); }
});

// A route that needs Redis and nothing else: how many members are online.
app.get('/api/online', async (req, res, next) => {
  try {
    const online = await redisCall('GET', (c) => c.get('koinonia:online'));
    res.json({ online: parseInt(online, 10) || 0, host: HOSTNAME });
  } catch (err) { next(err); }
});

// Reads go to the replica; ?fresh=1 reads from the primary (read-your-writes: the replica may
// lag behind a write the client just made).
app.get('/api/messages', async (req, res, next) => {
  const limit = Math.min(Math.max(parseInt(req.query.limit, 10) || 20, 1), 100);
  try {
    const { rows } = await query(req.query.fresh === '1' ? primary : replica,
      'SELECT id, body, host, created_at FROM messages ORDER BY id DESC LIMIT $1', [limit]);
    res.json({ messages: rows, count: rows.length, host: HOSTNAME });
  } catch (err) {
    if (err.code !== '42P01') return next(err);
    recreateSchema().catch(() => {}); // no table yet: nothing to read
    res.json({ messages: [], count: 0, host: HOSTNAME });
  }
});

app.use((req, res) => res.status(404).json({ error: 'not found' }));
app.use((err, req, res, next) => { // eslint-disable-line no-unused-vars
  if (err.expose && err.status < 500) { // bad JSON, too large
    res.locals.errorType = err.type || 'bad_request';
    return res.status(err.status).json({ error: err.message });
  }
  res.locals.errorType = err.errorType || 'internal';
  // A dependency (database, Redis) failed or timed out: this backend is fine. The load balancer
  // neither retries nor counts a 503. A read may be tried again shortly; a write that timed out
  // may have been executed, so it gets no Retry-After.
  log('error', { method: req.method, path: req.path, error: err.message, error_type: res.locals.errorType,
    request_id: req.get('x-request-id') || null }, 'error');
  if (res.headersSent) return;
  if (req.method === 'GET' || req.method === 'HEAD') res.set('Retry-After', '1');
  res.status(503).json({ error: 'dependency unavailable', detail: err.message });
});

// ---- Lifecycle ------------------------------------------------------------
const server = app.listen(PORT, HOST, () => {
  log('listening', { host: HOST, port: PORT, version: VERSION, app: APP_NAME });
  serveMetrics();
  if (typeof process.send === 'function') process.send('ready'); // PM2 wait_ready
});
// Idle keep-alive connections from the load balancer outlive its own keepalive_timeout (4 s):
// NGINX closes them first, so it never sends a request on one the app is closing.
server.keepAliveTimeout = 65000;
server.headersTimeout = 66000;
ensureSchema().catch((err) => log('schema_deferred', { error: err.message }));

// WebSocket at /ws: the RFC 6455 handshake, one text frame naming the host, then a close
// frame. Enough to prove upgrades pass the load balancer without a WebSocket library.
server.on('upgrade', (req, socket) => {
  const key = req.headers['sec-websocket-key'];
  if (req.url !== '/ws' || !key || String(req.headers.upgrade).toLowerCase() !== 'websocket') {
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    return;
  }
  const accept = require('crypto').createHash('sha1')
    .update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  const text = Buffer.from(JSON.stringify({ host: HOSTNAME, version: VERSION }));
  socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
    + `Sec-WebSocket-Accept: ${accept}\r\n\r\n`);
  socket.end(Buffer.concat([Buffer.from([0x81, text.length]), text, Buffer.from([0x88, 0x00])]));
});

async function shutdown(signal) {
  if (shuttingDown) return;
  shuttingDown = true;
  log('shutdown', { signal });
  setTimeout(() => { log('shutdown_forced'); process.exit(1); }, 9000).unref();
  const idle = setInterval(() => server.closeIdleConnections && server.closeIdleConnections(), 100);
  if (metricsListener) metricsListener.close();
  await new Promise((resolve) => server.close(resolve)); // waits for in-flight requests
  clearInterval(idle);
  const pools = [...new Set([primary, replica].filter(Boolean))];
  await Promise.allSettled([
    ...pools.map((p) => withTimeout(p.end(), 2000, 'pool end')),
    redis && redis.client.isReady ? withTimeout(redis.client.quit(), 2000, 'redis quit') : null,
  ]);
  log('stopped');
  process.exit(0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('unhandledRejection', (err) => log('unhandled_rejection', { error: String(err && err.message) }));
