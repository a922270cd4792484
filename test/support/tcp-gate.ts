import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A plain TCP pass-through to a server (HTTP, WebSocket: bytes as they are), that a test can
 * close on its clients: `shut()` cuts every connection and refuses new ones until `open()`.
 * (TcpRelay speaks PostgreSQL's protocol; this knows none.)
 */
export class TcpGate {
  readonly #sockets = new Set<Socket>();
  #shut = false;

  private constructor(
    private readonly server: Server,
    /** `http://127.0.0.1:<port>`: the target, through the gate */
    readonly url: string,
  ) {}

  static async start(target: string): Promise<TcpGate> {
    const { hostname, port } = new URL(target);
    let gate: TcpGate | undefined;
    const server = createServer((client) => gate!.#pass(client, hostname, Number(port)));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    server.on('error', () => {});
    gate = new TcpGate(server, `http://127.0.0.1:${(server.address() as { port: number }).port}`);
    return gate;
  }

  shut(): void {
    this.#shut = true;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  open(): void {
    this.#shut = false;
  }

  async close(): Promise<void> {
    this.shut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  #pass(client: Socket, host: string, port: number): void {
    client.on('error', () => client.destroy());
    if (this.#shut) return void client.destroy();
    const upstream = connect(port, host);
    upstream.on('error', () => upstream.destroy());
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.on('close', () => {
        this.#sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
