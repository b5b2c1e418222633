/**
 * The files a coordinator's data dir holds, by role. Its own module so that the admin commands,
 * which only need to find the admin token and server.json, do not load the server to learn them.
 */
import path from 'node:path';

export const DATA_FILES = {
  db: 'quorum.db',
  adminToken: 'admin.token',
  onlineKey: 'online-key.pem',
  serverInfo: 'server.json',
  tlsCert: path.join('tls', 'cert.pem'),
  tlsKey: path.join('tls', 'key.pem'),
} as const;
