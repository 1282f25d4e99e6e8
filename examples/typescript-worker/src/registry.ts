// A worker's lease in temporal-registry, over native gRPC with the stubs `buf generate`
// made from proto/ (src/gen): register, heartbeat every ttl/3, unregister on the way out.
import { readFileSync } from "node:fs";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { RegistryService } from "./gen/temporal_registry/v1/registry_pb";
import type { WorkflowSchema } from "./gen/temporal_registry/v1/resources_pb";

export type WorkflowSpec = MessageInitShape<typeof WorkflowSchema>;

export interface RegistrySettings {
  /** host:port of the registry's gRPC API, straight or through Envoy. */
  address: string;
  /** Bearer token (worker scope) sent on every call; empty when auth is off. */
  token: string;
  /** Use TLS (system roots, or caCert). */
  tls: boolean;
  /** PEM file of roots to trust instead of the system's. */
  caCert?: string;
}

export interface WorkerRegistration {
  workerId: string;
  taskQueue: string;
  ttlSeconds: number;
  labels?: Record<string, string>;
  workflows: WorkflowSpec[];
}

/** A client of temporal_registry.v1.RegistryService. */
export function registryClient(settings: RegistrySettings) {
  const bearer: Interceptor = (next) => (request) => {
    request.header.set("authorization", `Bearer ${settings.token}`);
    return next(request);
  };
  const tls = settings.tls || Boolean(settings.caCert);
  const transport = createGrpcTransport({
    baseUrl: `${tls ? "https" : "http"}://${settings.address}`,
    nodeOptions: settings.caCert ? { ca: readFileSync(settings.caCert) } : {},
    interceptors: settings.token ? [bearer] : [],
    defaultTimeoutMs: 5_000,
  });
  return createClient(RegistryService, transport);
}

/**
 * Keeps a worker registered while it runs. A registry that is down or restarting never
 * stops the worker: the lease retries on every beat, and registers again when the
 * registry answers NOT_FOUND (it forgot the worker, e.g. after the lease expired).
 */
export class RegistryLease {
  private readonly client: ReturnType<typeof registryClient>;
  private registered = false;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private beating: Promise<void> = Promise.resolve();

  constructor(
    settings: RegistrySettings,
    private readonly registration: WorkerRegistration,
  ) {
    this.client = registryClient(settings);
  }

  /** Registers (or logs why it could not, and retries) and starts heartbeating. */
  async start(): Promise<void> {
    await this.beat();
    this.schedule();
  }

  /** Stops heartbeating and unregisters; the lease would expire anyway if this fails. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.beating;
    if (!this.registered) return;
    try {
      await this.client.unregisterWorker({ workerId: this.registration.workerId });
      this.registered = false;
      log(`unregistered ${this.registration.workerId}`);
    } catch (error) {
      log(`could not unregister: ${ConnectError.from(error).message}`);
    }
  }

  private schedule(): void {
    const interval = (this.registration.ttlSeconds * 1000) / 3;
    this.timer = setTimeout(() => {
      this.beating = this.beat().then(() => {
        if (!this.stopped) this.schedule();
      });
    }, interval);
  }

  private async beat(): Promise<void> {
    try {
      if (this.registered) {
        await this.client.heartbeat({ workerId: this.registration.workerId });
        return;
      }
      await this.register();
    } catch (error) {
      const failure = ConnectError.from(error);
      if (failure.code === Code.NotFound && this.registered) {
        log("the registry does not know this worker any more: registering again");
        this.registered = false;
        return this.beat();
      }
      log(`${failure.message}; trying again in ${Math.round(this.registration.ttlSeconds / 3)} s`);
    }
  }

  private async register(): Promise<void> {
    const response = await this.client.registerWorker(this.registration);
    this.registered = true;
    const types = this.registration.workflows.map((w) => w.workflowType).join(", ");
    log(`registered ${response.worker?.workerId} on ${response.worker?.taskQueue}: ${types}`);
  }
}

function log(message: string): void {
  console.log(`[registry] ${message}`);
}
