// Conversion between altar.v1.Value and JavaScript values.
//
// Two number modes, chosen per tool:
//
//   "natural" (the default): int_value becomes a number when it is a safe
//   integer (|n| <= 2^53 - 1) and a BigInt beyond; double_value becomes a
//   number. Back to the wire, a BigInt is an int_value, a number that is a
//   safe integer is an int_value, any other number a double_value; wrap a
//   number in double() to send a double whatever its value.
//
//   "exact": int_value is always a BigInt and double_value always a number;
//   back to the wire a BigInt is an int_value and a number always a
//   double_value. Every Value survives the round trip unchanged (3 and 3.0
//   stay apart), at the price of BigInt arithmetic for integers.
//
// In both modes: null_value <-> null; an object key that is absent on the
// wire is absent in JavaScript (undefined), a key whose value is null is
// present with null, and a key whose value is undefined is left out on the
// way back; bytes_value <-> Uint8Array (a Buffer is one), never base64;
// array_value <-> Array; object_value <-> a plain object (a Map with string
// keys is accepted on the way back).

import { create } from "@bufbuild/protobuf";
import { ValueSchema } from "../gen/altar/v1/value_pb.js";
import { ToolError, ErrorCode } from "./errors.js";

/** The deepest nesting of arrays and objects converted either way. */
export const MAX_DEPTH = 100;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** A number that goes to the wire as a double_value even when it is whole. */
export class Double {
  /** @param {number} value */
  constructor(value) {
    if (typeof value !== "number") throw new TypeError("double() takes a number");
    this.value = value;
  }
  valueOf() {
    return this.value;
  }
  toJSON() {
    return this.value;
  }
}

/**
 * double marks a number to be sent as a double_value (3.0, not 3).
 * @param {number} value
 * @returns {Double}
 */
export function double(value) {
  return new Double(value);
}

/**
 * @typedef {"natural" | "exact"} NumberMode
 */

/**
 * fromValue converts a wire Value to JavaScript.
 * @param {import("../gen/altar/v1/value_pb.js").Value | undefined} v
 * @param {NumberMode} [mode]
 * @param {string} [path] JSON pointer of v, for errors
 * @param {number} [depth]
 * @returns {unknown}
 */
export function fromValue(v, mode = "natural", path = "", depth = 0) {
  if (depth > MAX_DEPTH) {
    throw new ToolError(ErrorCode.INVALID_ARGUMENTS, `value at "${path || "/"}" is nested deeper than ${MAX_DEPTH} levels`);
  }
  const k = v?.kind;
  switch (k?.case) {
    case "nullValue":
      return null;
    case "stringValue":
    case "boolValue":
    case "doubleValue":
      return k.value;
    case "intValue":
      if (mode === "exact") return k.value;
      return k.value >= -9007199254740991n && k.value <= 9007199254740991n ? Number(k.value) : k.value;
    case "bytesValue":
      return k.value;
    case "arrayValue":
      return k.value.items.map((item, i) => fromValue(item, mode, `${path}/${i}`, depth + 1));
    case "objectValue":
      return fromFields(k.value.fields, mode, path, depth + 1);
    default:
      throw new ToolError(ErrorCode.INVALID_ARGUMENTS, `value at "${path || "/"}" has no kind set`);
  }
}

/**
 * fromFields converts a map of wire Values (an object's fields, a call's
 * parameters) to a plain object. Keys are defined as own properties, so a
 * key named "__proto__" is data, never the object's prototype.
 * @param {Record<string, import("../gen/altar/v1/value_pb.js").Value>} fields
 * @param {NumberMode} [mode]
 * @param {string} [path]
 * @param {number} [depth]
 * @returns {Record<string, unknown>}
 */
export function fromFields(fields, mode = "natural", path = "", depth = 0) {
  const out = {};
  for (const key of Object.keys(fields ?? {})) {
    Object.defineProperty(out, key, {
      value: fromValue(fields[key], mode, `${path}/${escapePointer(key)}`, depth),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/**
 * toValue converts a JavaScript value to a wire Value. undefined at the top
 * (a tool that returns nothing) is null. It throws a ToolError with
 * ERROR_CODE_INVALID_RESULT naming the path of a value it cannot convert.
 * @param {unknown} x
 * @param {NumberMode} [mode]
 * @param {string} [path]
 * @param {number} [depth]
 * @returns {import("../gen/altar/v1/value_pb.js").Value}
 */
export function toValue(x, mode = "natural", path = "", depth = 0) {
  return create(ValueSchema, { kind: toKind(x, mode, path, depth) });
}

function toKind(x, mode, path, depth) {
  if (depth > MAX_DEPTH) {
    throw bad(path, `is nested deeper than ${MAX_DEPTH} levels (a cycle?)`);
  }
  switch (typeof x) {
    case "undefined":
      return { case: "nullValue", value: 0 };
    case "string":
      return { case: "stringValue", value: x };
    case "boolean":
      return { case: "boolValue", value: x };
    case "bigint":
      if (x < INT64_MIN || x > INT64_MAX) throw bad(path, `is ${x}, outside the int64 range`);
      return { case: "intValue", value: x };
    case "number":
      if (mode === "natural" && Number.isSafeInteger(x) && !Object.is(x, -0)) {
        return { case: "intValue", value: BigInt(x) };
      }
      return { case: "doubleValue", value: x };
    case "object":
      break;
    default:
      throw bad(path, `is a ${typeof x}, which has no ALTAR value`);
  }
  if (x === null) return { case: "nullValue", value: 0 };
  if (x instanceof Double) return { case: "doubleValue", value: x.value };
  if (x instanceof Uint8Array) return { case: "bytesValue", value: x };
  if (x instanceof ArrayBuffer) return { case: "bytesValue", value: new Uint8Array(x) };
  if (x instanceof Date) {
    if (Number.isNaN(x.getTime())) throw bad(path, "is an invalid Date");
    return { case: "stringValue", value: x.toISOString() };
  }
  if (Array.isArray(x)) {
    const items = x.map((item, i) => toValue(item, mode, `${path}/${i}`, depth + 1));
    return { case: "arrayValue", value: { items } };
  }
  const fields = {};
  const entries = x instanceof Map ? [...x.entries()] : Object.entries(x);
  for (const [key, val] of entries) {
    if (typeof key !== "string") throw bad(path, "is a Map with a key that is not a string");
    if (val === undefined) continue;
    Object.defineProperty(fields, key, {
      value: toValue(val, mode, `${path}/${escapePointer(key)}`, depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return { case: "objectValue", value: { fields } };
}

/**
 * kindOf names a wire Value's kind as conformance.describe reports it.
 * @param {import("../gen/altar/v1/value_pb.js").Value | undefined} v
 * @returns {string}
 */
export function kindOf(v) {
  switch (v?.kind?.case) {
    case "nullValue":
      return "null";
    case "stringValue":
      return "string";
    case "intValue":
      return "int";
    case "doubleValue":
      return "double";
    case "boolValue":
      return "bool";
    case "bytesValue":
      return "bytes";
    case "arrayValue":
      return "array";
    case "objectValue":
      return "object";
    default:
      return "unset";
  }
}

function bad(path, what) {
  return new ToolError(ErrorCode.INVALID_RESULT, `result value at "${path || "/"}" ${what}`);
}

function escapePointer(key) {
  return key.replaceAll("~", "~0").replaceAll("/", "~1");
}
