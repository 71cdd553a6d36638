// ALTAR errors: the one code table (altar.v1.ErrorCode) and ToolError, what
// a tool throws to fail with a code of its choosing.

import { create, getOption } from "@bufbuild/protobuf";
import { ErrorCode, ErrorCodeSchema, ErrorSchema, FieldErrorSchema, retryable } from "../gen/altar/v1/error_pb.js";

export { ErrorCode };

/**
 * codeName is the wire name of a code ("ERROR_CODE_TOOL_FAILED").
 * @param {number} code
 * @returns {string}
 */
export function codeName(code) {
  return ErrorCodeSchema.value[code]?.name ?? `ERROR_CODE_${code}`;
}

/**
 * isRetryable reports the code's retryable option from error.proto.
 * @param {number} code
 * @returns {boolean}
 */
export function isRetryable(code) {
  const v = ErrorCodeSchema.value[code];
  return v ? getOption(v, retryable) : false;
}

/**
 * ToolError is a failure with an ALTAR code. A tool throws one to choose its
 * code (anything else it throws is ERROR_CODE_TOOL_FAILED with the error's
 * message).
 *
 *   throw new ToolError(ErrorCode.INVALID_ARGUMENTS, "b must not be zero",
 *     { fieldErrors: [{ path: "/b", rule: "not", message: "division by zero" }] });
 */
export class ToolError extends Error {
  /**
   * @param {number} code an ErrorCode value
   * @param {string} message
   * @param {{fieldErrors?: {path: string, rule?: string, message?: string}[],
   *          retryAfterMs?: number, details?: Record<string, string>, cause?: unknown}} [opts]
   */
  constructor(code, message, opts = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "ToolError";
    this.code = code;
    this.fieldErrors = opts.fieldErrors ?? [];
    this.retryAfterMs = opts.retryAfterMs ?? 0;
    this.details = opts.details ?? {};
  }

  get retryable() {
    return isRetryable(this.code);
  }

  /**
   * toProto is the error as an altar.v1.Error.
   * @param {{invocationId?: string, correlationId?: string}} [ids]
   */
  toProto(ids = {}) {
    return create(ErrorSchema, {
      code: this.code,
      message: this.message,
      fieldErrors: this.fieldErrors.map((f) => create(FieldErrorSchema, f)),
      retryAfterMs: BigInt(Math.max(0, Math.ceil(this.retryAfterMs))),
      details: { ...this.details },
      invocationId: ids.invocationId ?? "",
      correlationId: ids.correlationId ?? "",
    });
  }

  /**
   * fromProto makes a ToolError of a wire Error (the Host's refusal).
   * @param {import("../gen/altar/v1/error_pb.js").Error | undefined} e
   */
  static fromProto(e) {
    if (!e) return new ToolError(ErrorCode.UNSPECIFIED, "no reason given");
    return new ToolError(e.code, e.message, {
      fieldErrors: e.fieldErrors.map((f) => ({ path: f.path, rule: f.rule, message: f.message })),
      retryAfterMs: Number(e.retryAfterMs),
      details: { ...e.details },
    });
  }

  toString() {
    return `${codeName(this.code)}: ${this.message}`;
  }
}
