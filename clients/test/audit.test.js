// graphql-http's GraphQL-over-HTTP server audit (https://github.com/graphql/graphql-http#audits): every audit,
// MUST, SHOULD and MAY alike, must be ok: an error breaks the specification, a warning a recommendation of it.
import assert from "node:assert/strict";
import { test } from "node:test";

import { auditServer } from "graphql-http";

import { url } from "../support.js";

test("graphql-http server audit: every result ok", async (t) => {
  const results = await auditServer({ url });
  const counts = { ok: 0, warn: 0, error: 0 };
  for (const result of results) counts[result.status] += 1;
  t.diagnostic(`audit: ${results.length} results, ${counts.ok} ok, ${counts.warn} warn, ${counts.error} error`);

  const failures = [];
  for (const result of results.filter((entry) => entry.status !== "ok")) {
    let detail = result.reason;
    if (result.response) {
      const body = await result.response.text().catch(() => "");
      detail += ` (HTTP ${result.response.status} ${result.response.headers.get("content-type")}: ${body.slice(0, 300)})`;
    }
    failures.push(`${result.status.toUpperCase()} ${result.id} ${result.name}: ${detail}`);
  }
  assert.deepEqual(failures, [], `\n${failures.join("\n")}`);
  assert.ok(results.length >= 61, `only ${results.length} audits ran`);
});
