// A Temporal worker for the `greet` workflow that announces itself to temporal-registry:
// it registers the workflow type with its input schema, heartbeats while it runs and
// unregisters on SIGINT/SIGTERM. Clients then start `greet` through the registry
// (POST /workflows/greet/start) without knowing the task queue.
import { hostname } from "node:os";
import { NativeConnection, Worker } from "@temporalio/worker";
import * as activities from "./activities";
import { RegistryLease, type WorkflowSpec } from "./registry";

const env = (name: string, fallback: string): string => process.env[name] || fallback;

const config = {
  registry: {
    address: env("REGISTRY_ADDRESS", "127.0.0.1:8080"),
    token: env("REGISTRY_TOKEN", ""),
    tls: ["1", "true", "yes", "on"].includes(env("REGISTRY_TLS", "").toLowerCase()),
    caCert: process.env.REGISTRY_CA_CERT || undefined,
  },
  temporalAddress: env("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
  namespace: env("TEMPORAL_NAMESPACE", "default"),
  taskQueue: env("TASK_QUEUE", "greetings"),
  workerId: env("WORKER_ID", `greeter-${hostname()}-${process.pid}`),
  ttlSeconds: Number(env("REGISTRY_TTL_SECONDS", "30")),
};

// What the registry learns about `greet`: it validates every start against the schema
// (a start without a name is refused with a field violation) before Temporal sees it.
const GREET: WorkflowSpec = {
  workflowType: "greet",
  version: "1",
  description: "Greets someone by name.",
  inputSchema: {
    type: "object",
    properties: { name: { type: "string", minLength: 1, maxLength: 100 } },
    required: ["name"],
    additionalProperties: false,
  },
  labels: { team: "examples" },
};

async function main(): Promise<void> {
  const connection = await NativeConnection.connect({ address: config.temporalAddress });
  try {
    const worker = await Worker.create({
      connection,
      namespace: config.namespace,
      taskQueue: config.taskQueue,
      workflowsPath: require.resolve("./workflows"),
      activities,
    });
    const lease = new RegistryLease(config.registry, {
      workerId: config.workerId,
      taskQueue: config.taskQueue,
      ttlSeconds: config.ttlSeconds,
      labels: { sdk: "typescript" },
      workflows: [GREET],
    });
    await lease.start();
    console.log(`worker ${config.workerId} polling ${config.taskQueue}`);
    try {
      // Until SIGINT or SIGTERM: the Temporal runtime catches both and shuts the worker
      // down gracefully, then run() returns.
      await worker.run();
    } finally {
      await lease.stop();
    }
  } finally {
    await connection.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
