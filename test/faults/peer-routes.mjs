// Loaded into each lockd child of a fault run with `node --import`, before lockd itself: it sends
// the node's outbound peer connections through the fault proxies. The environment variable
// LOCKD_FAULTS_PEER_ROUTES maps a peer's real address to the proxy for (this node → that peer),
// e.g. {"127.0.0.1:41000": "127.0.0.1:42007"}; every other connection is left alone.
//
// Why not a cluster file per node naming the proxies: lockd's leader publishes the member
// addresses it knows into the replicated log (its own real address included) and every node
// then dials what the log says, so per-node files stop meaning anything after the first election.
// Rewriting the destination inside the process keeps one directed proxy per (from, to) pair
// whatever addresses the log holds. Plain JavaScript: the child runs the built dist/ without tsx.
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';

const routesVariable = 'LOCKD_FAULTS_PEER_ROUTES';

/** @returns {Map<string, {host: string, port: number}>} */
function readRoutes() {
  const text = process.env[routesVariable];
  if (text === undefined || text === '') return new Map();
  /** @type {Record<string, string>} */
  const parsed = JSON.parse(text);
  const routes = new Map();
  for (const [from, to] of Object.entries(parsed)) {
    const separator = to.lastIndexOf(':');
    routes.set(from, { host: to.slice(0, separator), port: Number(to.slice(separator + 1)) });
  }
  return routes;
}

const routes = readRoutes();
const originalConnect = net.connect;

/**
 * net.connect with the peer link's call shape, connect({host, port, …}), rerouted when the
 * destination is a routed peer. Other call shapes pass through unchanged.
 * @param {...unknown} parameters
 */
function routedConnect(...parameters) {
  const [first, ...rest] = parameters;
  if (typeof first === 'object' && first !== null && 'port' in first) {
    const options = /** @type {net.NetConnectOpts & {host?: string, port: number}} */ (first);
    const route = routes.get(`${options.host ?? 'localhost'}:${options.port}`);
    if (route !== undefined) {
      return Reflect.apply(originalConnect, net, [
        { ...options, host: route.host, port: route.port },
        ...rest,
      ]);
    }
  }
  return Reflect.apply(originalConnect, net, parameters);
}

if (routes.size > 0) {
  net.connect = routedConnect;
  net.createConnection = routedConnect;
  // ES module imports of node:net (`import { connect } from 'node:net'`) see the change only
  // after this: it updates the live bindings from the CommonJS exports.
  syncBuiltinESMExports();
}
