// Value <-> JavaScript conversion: the documented table, exactness in
// "exact" mode over random Values (a property test standing in for a fuzz
// target, since the parser under test is JavaScript), and the bounds on
// untrusted input.

import { test } from "node:test";
import assert from "node:assert/strict";
import { create, equals, toBinary, fromBinary } from "@bufbuild/protobuf";
import { ValueSchema } from "../gen/altar/v1/value_pb.js";
import { fromValue, toValue, fromFields, double, MAX_DEPTH, ToolError, ErrorCode } from "../altar.js";
import { decodeString1 } from "../lib/transport.js";

const v = (kcase, value) => create(ValueSchema, { kind: { case: kcase, value } });

test("natural mode: the documented table", () => {
  const cases = [
    [v("intValue", 42n), 42, v("intValue", 42n)],
    [v("intValue", 2n ** 53n + 1n), 2n ** 53n + 1n, v("intValue", 2n ** 53n + 1n)],
    [v("intValue", -(2n ** 63n)), -(2n ** 63n), v("intValue", -(2n ** 63n))],
    [v("doubleValue", 2.5), 2.5, v("doubleValue", 2.5)],
    [v("doubleValue", 3), 3, v("intValue", 3n)], // documented: a whole number goes back as an integer
    [v("doubleValue", -0), -0, v("doubleValue", -0)],
    [v("nullValue", 0), null, v("nullValue", 0)],
    [v("stringValue", "é"), "é", v("stringValue", "é")],
    [v("boolValue", true), true, v("boolValue", true)],
    [v("bytesValue", new Uint8Array([0, 255])), new Uint8Array([0, 255]), v("bytesValue", new Uint8Array([0, 255]))],
  ];
  for (const [wire, js, back] of cases) {
    assert.deepEqual(fromValue(wire), js);
    assert.ok(equals(ValueSchema, toValue(js), back), `${String(js)} back to the wire`);
  }
  assert.ok(equals(ValueSchema, toValue(double(3)), v("doubleValue", 3)), "double() forces a double");
  assert.ok(equals(ValueSchema, toValue(undefined), v("nullValue", 0)), "a tool returning nothing returns null");
  assert.ok(equals(ValueSchema, toValue(Buffer.from("hi")), v("bytesValue", new Uint8Array([104, 105]))));
});

test("null and missing stay apart", () => {
  const args = fromFields({ present: v("nullValue", 0) });
  assert.ok(Object.hasOwn(args, "present"));
  assert.equal(args.present, null);
  assert.ok(!Object.hasOwn(args, "missing"));
  const back = toValue({ present: null, missing: undefined });
  assert.deepEqual(Object.keys(back.kind.value.fields), ["present"]);
});

test("a key named __proto__ is data, not a prototype", () => {
  const args = fromFields({ ["__proto__"]: v("stringValue", "x") });
  assert.equal(Object.getPrototypeOf(args), Object.prototype);
  assert.equal(Object.getOwnPropertyDescriptor(args, "__proto__").value, "x");
});

test("values that have no ALTAR form are refused, naming the path", () => {
  for (const [x, path] of [
    [{ a: [1, () => 1] }, "/a/1"],
    [{ s: Symbol("s") }, "/s"],
    [{ big: 2n ** 63n }, "/big"],
    [{ d: new Date(NaN) }, "/d"],
  ]) {
    assert.throws(() => toValue(x), (e) => e instanceof ToolError && e.code === ErrorCode.INVALID_RESULT && e.message.includes(`"${path}"`));
  }
  const cyclic = {};
  cyclic.self = cyclic;
  assert.throws(() => toValue(cyclic), (e) => e instanceof ToolError && e.code === ErrorCode.INVALID_RESULT);
});

test("nesting deeper than MAX_DEPTH is refused, not a stack overflow", () => {
  let deep = v("nullValue", 0);
  for (let i = 0; i < MAX_DEPTH + 5; i++) deep = v("arrayValue", { items: [deep] });
  assert.throws(() => fromValue(deep), (e) => e instanceof ToolError && e.code === ErrorCode.INVALID_ARGUMENTS);
});

// A small deterministic PRNG so that a failure is reproducible by seed.
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomValue(r, depth) {
  const kinds = depth > 3 ? 6 : 8;
  switch (Math.floor(r() * kinds)) {
    case 0:
      return v("nullValue", 0);
    case 1:
      return v("stringValue", String.fromCodePoint(...Array.from({ length: Math.floor(r() * 5) }, () => Math.floor(r() * 0x2fff))));
    case 2: {
      const hi = BigInt(Math.floor(r() * 2 ** 32)) - 2n ** 31n;
      return v("intValue", BigInt.asIntN(64, (hi << 32n) | BigInt(Math.floor(r() * 2 ** 32))));
    }
    case 3: {
      const specials = [0, -0, 3, 1e300, 5e-324, Number.NaN, Infinity, -Infinity];
      return v("doubleValue", r() < 0.3 ? specials[Math.floor(r() * specials.length)] : (r() - 0.5) * 1e6);
    }
    case 4:
      return v("boolValue", r() < 0.5);
    case 5:
      return v("bytesValue", Uint8Array.from({ length: Math.floor(r() * 8) }, () => Math.floor(r() * 256)));
    case 6:
      return v("arrayValue", { items: Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1)) });
    default: {
      const fields = {};
      for (let i = Math.floor(r() * 4); i > 0; i--) fields["k" + Math.floor(r() * 100)] = randomValue(r, depth + 1);
      return v("objectValue", { fields });
    }
  }
}

test("exact mode round-trips random Values through the binary wire", () => {
  for (let seed = 1; seed <= 1000; seed++) {
    const r = rng(seed);
    const wire = fromBinary(ValueSchema, toBinary(ValueSchema, randomValue(r, 0)));
    const back = toValue(fromValue(wire, "exact"), "exact");
    // Compared as bytes: equals() has NaN unequal to itself.
    assert.deepEqual(toBinary(ValueSchema, back), toBinary(ValueSchema, wire), `seed ${seed}`);
  }
});

test("the health request decoder never throws anything but an Error on random bytes", () => {
  const r = rng(7);
  for (let i = 0; i < 5000; i++) {
    const b = Buffer.from(Array.from({ length: Math.floor(r() * 12) }, () => Math.floor(r() * 256)));
    try {
      assert.equal(typeof decodeString1(b), "string");
    } catch (e) {
      assert.ok(e instanceof Error, `bytes ${b.toString("hex")}`);
    }
  }
  assert.equal(decodeString1(Buffer.from([0x0a, 6, ...Buffer.from("plugin")])), "plugin");
});
