import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP relay between a client (the server under test) and PostgreSQL (or PgBouncer), for
 * breaking connections at chosen moments: what a network blip, a failover or a pooler restart
 * does to a connection in the middle of a commit.
 */
export class TcpRelay {
  readonly #server: Server;
  readonly #pairs = new Set<[Socket, Socket]>();
  #swallowing = false;
  #swallowingCommits = false;
  #refusing = false;

  private constructor(
    server: Server,
    readonly port: number,
  ) {
    this.#server = server;
  }

  static async start(target: string): Promise<TcpRelay> {
    const { hostname, port } = new URL(target);
    const server = createServer((client) => relay.#accept(client, hostname, Number(port || 5432)));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    server.on('error', () => {}); // after listening, nothing is expected; never crash a test run
    const relay = new TcpRelay(server, (server.address() as { port: number }).port);
    return relay;
  }

  /** `url` with its host and port swapped for the relay's. */
  via(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  /** How many connections pass through the relay now. */
  get connections(): number {
    return this.#pairs.size;
  }

  /**
   * From now on the database's answers on the open connections are dropped, not passed on:
   * what it does still happens, and the client never hears of it. Until `drop()`.
   */
  swallowReplies(): void {
    this.#swallowing = true;
  }

  /**
   * From now on, on any connection, the answer to a COMMIT and everything after it is dropped:
   * the commit happens, and the client never hears of it. Until `drop()`.
   */
  swallowCommitReplies(): void {
    this.#swallowingCommits = true;
  }

  /** Closes every open connection, both sides at once. New connections pass again. */
  drop(): void {
    for (const [client, upstream] of this.#pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.#pairs.clear();
    this.#swallowing = false;
    this.#swallowingCommits = false;
  }

  /** New connections are closed as soon as they are made, until `accept()`. */
  refuse(): void {
    this.#refusing = true;
  }

  accept(): void {
    this.#refusing = false;
  }

  async close(): Promise<void> {
    this.drop();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket, host: string, port: number): void {
    client.on('error', () => client.destroy());
    if (this.#refusing) {
      client.destroy();
      return;
    }
    const upstream = connect(port, host);
    upstream.on('error', () => upstream.destroy());
    const pair: [Socket, Socket] = [client, upstream];
    this.#pairs.add(pair);
    const end = () => {
      this.#pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('data', (chunk) => upstream.write(chunk));
    // The backend's messages, split as they come (a type byte and a length that counts
    // itself), to find the answer to a COMMIT: CommandComplete ('C') tagged COMMIT.
    let pending = Buffer.alloc(0);
    let committed = false;
    upstream.on('data', (chunk: Buffer) => {
      if (this.#swallowing || committed) return;
      pending = Buffer.concat([pending, chunk]);
      let passed = 0;
      while (pending.length - passed >= 5) {
        const length = pending.readUInt32BE(passed + 1);
        if (pending.length - passed < 1 + length) break;
        const isCommit = pending[passed] === 0x43 && pending.toString('latin1', passed + 5, passed + 11) === 'COMMIT';
        if (isCommit && this.#swallowingCommits) {
          committed = true;
          break;
        }
        passed += 1 + length;
      }
      if (passed > 0) client.write(pending.subarray(0, passed));
      pending = committed ? Buffer.alloc(0) : pending.subarray(passed);
    });
  }
}
