// The two tools test/node/workflows.test.ts reads the workflows with: the YAML reader (checked
// here against values PyYAML gives for the same text) and the expression evaluator (against the
// semantics GitHub documents). Both refuse what they do not understand.
import { describe, expect, it } from "vitest";
import {
  condition,
  evaluate,
  ExpressionError,
  looselyEqual,
  truthy,
} from "./fixture/expression.mjs";
import { parseYaml, YamlError } from "./fixture/yaml.mjs";

describe("the YAML reader", () => {
  it("reads mappings, sequences, scalars, comments and block scalars", () => {
    const text = [
      "# comment",
      'name: "x # not a comment"',
      "other: 'it''s' # a comment",
      "list: [a, 'b c', \"d\", 1, true]",
      "empty: []",
      "nothing:",
      "tilde: ~",
      "nested:",
      "  - a",
      "  - - b",
      "    - c",
      "  -",
      "    k: v",
      "  - k1: v1",
      "    k2:",
      "      - z",
      "    k3: |",
      "      line one",
      "        indented",
      "      # not a comment",
      "",
      "      after blank",
      "    k4: >",
      "      folded one",
      "      folded two",
      "",
      "      para two",
      "        more indented",
      "      back",
      "    k5: |-",
      "      stripped",
      "    k6: >+",
      "      kept",
      "",
      "  - last",
      "seq_same_indent:",
      "- one",
      "- two",
      "url: https://example.com/a#frag",
      "colon: a:b",
      "num: 1.5",
      "neg: -3",
      "dash-key.with/slash: v",
      "",
    ].join("\n");
    // PyYAML 6.0.3, yaml.safe_load of the same text.
    expect(parseYaml(text)).toEqual({
      name: "x # not a comment",
      other: "it's",
      list: ["a", "b c", "d", 1, true],
      empty: [],
      nothing: null,
      tilde: null,
      nested: [
        "a",
        ["b", "c"],
        { k: "v" },
        {
          k1: "v1",
          k2: ["z"],
          k3: "line one\n  indented\n# not a comment\n\nafter blank\n",
          k4: "folded one folded two\npara two\n  more indented\nback\n",
          k5: "stripped",
          k6: "kept\n\n",
        },
        "last",
      ],
      seq_same_indent: ["one", "two"],
      url: "https://example.com/a#frag",
      colon: "a:b",
      num: 1.5,
      neg: -3,
      "dash-key.with/slash": "v",
    });
  });

  it("folds `>-` the way GitHub reads a multi-line if:", () => {
    const text = ["if: >-", "  (a == 'x') ||", "  (b == 'y' &&", "   c == 'z')", "next: 1"].join(
      "\n",
    );
    expect(parseYaml(text)).toEqual({ if: "(a == 'x') || (b == 'y' &&\n c == 'z')", next: 1 });
  });

  const refused: [string, string][] = [
    ["an anchor", "a: &x 1\nb: *x\n"],
    ["a flow mapping", "a: {b: 1}\n"],
    ["a multi-line plain scalar", "a: one\n  two\n"],
    ["a tab in the indentation", "a:\n\tb: 1\n"],
    ["a key given twice", "a: 1\na: 2\n"],
    ["a dedent that matches no level", "a:\n    b: 1\n  c: 2\n"],
    ['": " in a plain scalar', "a: b: c\n"],
    ["a tag", "a: !!str 1\n"],
    ["a document marker", "---\na: 1\n"],
    ["a quoted scalar spanning lines", "a: 'one\n  two'\n"],
    ["an indented document", "  a: 1\n"],
    ["a key after a top-level sequence", "- a\nb: 1\n"],
    ["a block scalar header with an indentation indicator", "a: |2\n  x\n"],
  ];
  for (const [what, text] of refused) {
    it(`refuses ${what}`, () => {
      expect(() => parseYaml(text)).toThrow(YamlError);
    });
  }
});

describe("the expression evaluator", () => {
  const github = {
    event_name: "push",
    ref: "refs/heads/main",
    event: { head_commit: { message: "hi" }, number: 3 },
  };

  it("reads property paths, ignoring case, and null for what is missing", () => {
    expect(evaluate("github.ref", { github })).toBe("refs/heads/main");
    expect(evaluate("GitHub.Event.Head_Commit.message", { github })).toBe("hi");
    expect(evaluate("github.event.nothing.deeper", { github })).toBeNull();
    expect(evaluate("${{ github.event_name }}", { github })).toBe("push");
  });

  it("compares strings ignoring case, other types as numbers", () => {
    expect(condition("github.ref == 'REFS/HEADS/MAIN'", { github })).toBe(true);
    expect(condition("github.ref == 'refs/heads/mai'", { github })).toBe(false);
    expect(looselyEqual(null, "")).toBe(true);
    expect(looselyEqual(null, "main")).toBe(false);
    expect(looselyEqual(3, "3")).toBe(true);
    expect(looselyEqual(true, "1")).toBe(true);
    expect(looselyEqual("abc", Number.NaN)).toBe(false);
    expect(looselyEqual({}, {})).toBe(false);
    expect(condition("github.event.missing == null", { github })).toBe(true);
  });

  it("answers operands from && and ||, with GitHub's falsy values", () => {
    expect(evaluate("github.event.nothing || github.ref", { github })).toBe("refs/heads/main");
    expect(evaluate("github.ref && github.event_name", { github })).toBe("push");
    expect(evaluate("github.event.nothing && github.ref", { github })).toBeNull();
    for (const falsy of [false, 0, -0, "", null, Number.NaN]) expect(truthy(falsy)).toBe(false);
    for (const value of [true, 1, "false", "0", {}, []]) expect(truthy(value)).toBe(true);
  });

  it("binds == tighter than && tighter than ||, and honours parentheses", () => {
    const contexts = { github: { a: "1", b: "2" } };
    expect(condition("github.a == '1' || github.a == '9' && github.b == '9'", contexts)).toBe(true);
    expect(condition("(github.a == '1' || github.a == '9') && github.b == '9'", contexts)).toBe(
      false,
    );
    expect(condition("true && (false || github.b == '2')", contexts)).toBe(true);
  });

  const refused = [
    "always()",
    "success() && github.ref == 'refs/heads/main'",
    "!cancelled()",
    "github.ref != 'refs/heads/main'",
    "github.event.number == 3",
    "github.event['number']",
    "github.*.name",
    'github.ref == "refs/heads/main"',
    "(github.ref == 'x'",
    "github.ref ==",
    "gihub.ref == 'refs/heads/main'",
  ];
  for (const source of refused) {
    it(`refuses ${source}`, () => {
      expect(() => evaluate(source, { github })).toThrow(ExpressionError);
    });
  }
});
