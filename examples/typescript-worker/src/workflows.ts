// Workflow code runs in Temporal's deterministic sandbox: it may import only
// @temporalio/workflow and types, and reaches the outside world through activities.
import { proxyActivities } from "@temporalio/workflow";
import type * as activities from "./activities";

const { composeGreeting } = proxyActivities<typeof activities>({
  startToCloseTimeout: "10 seconds",
});

/** What `greet` takes: the registry checks starts against GREET_INPUT_SCHEMA in main.ts. */
export interface GreetInput {
  name: string;
}

/** The workflow type `greet` (Temporal names a TypeScript workflow after its function). */
export async function greet(input: GreetInput): Promise<string> {
  return await composeGreeting(input.name);
}
