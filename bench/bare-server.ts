/**
 * The ceiling for `npm run bench`: the lock API's happy path on a bare node:http server with an
 * in-memory Map, no validation, no consensus and no disk. lockd cannot be faster than this.
 */
import { createServer } from 'node:http';

const locks = new Set<string>();
const server = createServer((request, response) => {
  const name = (request.url ?? '').slice('/lock/'.length);
  let status = 404;
  if (request.method === 'POST') {
    status = locks.has(name) ? 409 : 200;
    locks.add(name);
  } else if (request.method === 'DELETE') {
    status = locks.delete(name) ? 200 : 404;
  } else if (locks.has(name)) {
    status = 200;
  }
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  response.end(status === 200 ? '{}\n' : '{"error":"Not Found"}\n');
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  process.stdout.write(
    `${JSON.stringify({ msg: 'lockd ready', port, url: `http://127.0.0.1:${port}` })}\n`,
  );
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
