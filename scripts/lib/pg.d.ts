// `pg` ships no types and @types/pg is not a dependency: what the scripts and their tests use of it.
declare module "pg" {
  export class Client {
    constructor(config: string | { connectionString?: string; host?: string; port?: number; user?: string; password?: string; database?: string });
    connect(): Promise<void>;
    query<Row = any>(sql: string, params?: unknown[]): Promise<{ rows: Row[] }>;
    escapeIdentifier(name: string): string;
    end(): Promise<void>;
    on(event: "error", listener: (err: Error) => void): this;
  }
  export class Pool {
    constructor(config: { connectionString?: string; max?: number });
    query<Row = any>(sql: string, params?: unknown[]): Promise<{ rows: Row[] }>;
    end(): Promise<void>;
    on(event: "error", listener: (err: Error) => void): this;
  }
}
