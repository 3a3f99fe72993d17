// Runs docs/javascripts/calculator.js's pure functions under Node for tests/test_calculator_node.py.
// Usage: node tests/calculator_node.mjs requests.json  ->  prints one JSON result per request.
// A request is {fn, args}; a result is {value} or {error, field, input_error}.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";

const require = createRequire(import.meta.url);
const Calc = require("../docs/javascripts/calculator.js");
const requests = JSON.parse(readFileSync(process.argv[2], "utf8"));
const results = requests.map(({ fn, args }) => {
  try {
    return { value: Calc[fn](...args) };
  } catch (e) {
    return { error: e.message, field: e.field ?? null, input_error: e instanceof Calc.InputError };
  }
});
process.stdout.write(JSON.stringify(results));
