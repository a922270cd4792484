/**
 * The seed's design, as a baseline for writes (issue 20): a minimal HTTP handler in front of a
 * plain insert into a table whose trigger NOTIFYs the row, as the seed's Express server did
 * (/work/shared/seed). No event log, no ordering, no replay: what the seed offered, at the
 * seed's cost. node:http rather than Express, so the figure is the database's, not a framework's.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import postgres from 'postgres';
import { serveCommands } from './child.ts';

let sql: postgres.Sql | undefined;
let server: Server | undefined;

const SCHEMA = `
  create table if not exists seed_orders (
    id bigint generated always as identity primary key,
    customer_name text not null,
    product_name text not null,
    status text not null default 'pending',
    created_at timestamptz not null default now()
  );
  create or replace function seed_orders_notify() returns trigger language plpgsql as $$
  begin
    perform pg_notify('orders_channel', row_to_json(coalesce(NEW, OLD))::text);
    return null;
  end $$;
  drop trigger if exists seed_orders_notify on seed_orders;
  create trigger seed_orders_notify after insert or update or delete on seed_orders
    for each row execute function seed_orders_notify();`;

serveCommands({
  async listen({ databaseUrl }: { databaseUrl: string }) {
    sql = postgres(databaseUrl, { max: 10, onnotice: () => {} });
    await sql.unsafe(SCHEMA);
    const db = sql;
    server = createServer((req, res) => {
      if (req.method !== 'POST' || req.url !== '/api/orders') {
        res.writeHead(404).end();
        return;
      }
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        const { customer_name, product_name, status = 'pending' } = JSON.parse(body) as Record<string, string>;
        db`insert into seed_orders (customer_name, product_name, status) values (${customer_name!}, ${product_name!}, ${status}) returning *`.then(
          ([row]) => res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(row)),
          (err: Error) => res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: err.message })),
        );
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    // The pid, so the bench measures this process's CPU per create as it does our server's.
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, pid: process.pid };
  },
  async close() {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await sql?.end({ timeout: 1 });
  },
});
