/**
 * Modelled errors. Each module throws a subclass of `NodemedicError` with a stable `code`; edges
 * (Lambda handlers, the CLI, Bolt listeners) turn them into responses. Nothing swallows them.
 */
export class NodemedicError extends Error {
  /** Stable, machine-readable code, e.g. `ALARM_UNSUPPORTED`. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Input we cannot use: an alarm of another shape, a bad instance id, a malformed payload. */
export class InvalidInputError extends NodemedicError {
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'INVALID_INPUT', message, options);
  }
}

/** The diagnostic script's output could not be read as facts (malformed, truncated, wrong schema). */
export class MalformedFactsError extends NodemedicError {
  /** True when the output looked cut off (SSM's 24,000-character cap, a killed script). */
  readonly truncated: boolean;
  constructor(message: string, options?: { cause?: unknown; truncated?: boolean }) {
    super('MALFORMED_FACTS', message, options);
    this.truncated = options?.truncated ?? false;
  }
}

/** The catalog or a config failed validation at load. */
export class CatalogError extends NodemedicError {
  constructor(message: string) {
    super('CATALOG_INVALID', message);
  }
}

/** The node or instance is not one nodemedic may touch (unknown, or missing the cluster tag). */
export class NodeNotFoundError extends NodemedicError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NODE_NOT_FOUND', message, options);
  }
}

/**
 * An alarm or node nodemedic does not handle (bad input, or a node it may not touch): the caller
 * skips it with the reason and its code, and never retries it.
 */
export function isNotHandled(error: unknown): error is InvalidInputError | NodeNotFoundError {
  return error instanceof InvalidInputError || error instanceof NodeNotFoundError;
}

/** A remote dependency (SSM, EC2, Slack, DynamoDB) failed in a way the caller may retry. */
export class DependencyError extends NodemedicError {
  readonly retryable: boolean;
  constructor(code: string, message: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(code, message, options);
    this.retryable = options?.retryable ?? false;
  }
}

/**
 * A workflow task token that can no longer be used: unknown, already used, or its wait timed out
 * (`TASK_TIMED_OUT`, `TASK_DOES_NOT_EXIST`, `TASK_TOKEN_INVALID`). Step Functions and the local
 * in-process workflow both throw it, so the Slack listener handles one type.
 */
export class TaskTokenError extends NodemedicError {}
