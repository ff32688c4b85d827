// Every refusal reaches an Apollo Client 4 user as GraphQL errors with their `extensions.code` (README, "Errors
// and status codes"), whatever HTTP status came with them; mutation payloads carry theirs in `errors { code }`.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { before, describe, test } from "node:test";

import { gql } from "@apollo/client";
import { BatchHttpLink } from "@apollo/client/link/batch-http";

import {
  apolloClient,
  errorCodes,
  failure,
  PASSWORD,
  rawGraphQL,
  recordingFetch,
  register,
  unique,
  url,
} from "../support.js";

let account;
let toyStoryId;
before(async () => {
  account = await register("errors");
  const { body } = await rawGraphQL({ query: "{ movie(tmdbId: 862) { id } }" });
  toyStoryId = body.data.movie.id;
});

/** The codes an anonymous (or signed-in) Apollo query fails with, and the HTTP status they came with. */
async function refused(query, { variables, token } = {}) {
  const { client, requests } = apolloClient({ token });
  const error = await failure(client.query({ query, variables, fetchPolicy: "network-only" }));
  return { codes: errorCodes(error), status: requests.at(-1).status, response: requests.at(-1) };
}

/** `movie { similar { similar { ... title } } }`: `depth` fields deep. */
function nested(depth) {
  let selection = "title";
  for (let level = 1; level < depth - 1; level += 1) selection = `similar(first: 1) { ${selection} }`;
  return gql(`query Deep { movie(tmdbId: 862) { ${selection} } }`);
}

describe("request errors (Apollo's Accept: application/graphql-response+json)", () => {
  test("GRAPHQL_VALIDATION_FAILED: an unknown field", async () => {
    const { codes, status } = await refused(gql`
      query Unknown {
        movies(first: 1) {
          noSuchField
        }
      }
    `);
    assert.deepEqual(codes, ["GRAPHQL_VALIDATION_FAILED"]);
    assert.equal(status, 400);
  });

  test("GRAPHQL_PARSE_FAILED: a document that does not parse (Apollo parses before sending: plain fetch)", async () => {
    for (const accept of [undefined, "application/json"]) {
      const { status, headers, body } = await rawGraphQL({ query: "{ movies(first: 1) { " }, { accept });
      assert.deepEqual(
        body.errors.map((error) => error.extensions?.code),
        ["GRAPHQL_PARSE_FAILED"],
      );
      assert.equal(body.data, undefined);
      if (accept === "application/json") {
        assert.equal(status, 200);
        assert.match(headers.get("content-type"), /^application\/json/);
      } else {
        assert.equal(status, 400);
        assert.match(headers.get("content-type"), /^application\/graphql-response\+json/);
      }
    }
  });

  test("BAD_USER_INPUT: a page size over 100", async () => {
    const query = gql`
      query Big($first: Int!) {
        movies(first: $first) {
          totalCount
        }
      }
    `;
    for (const first of [1000, 5000]) {
      const { codes, status } = await refused(query, { variables: { first } });
      assert.deepEqual(codes, ["BAD_USER_INPUT"], `first: ${first}`);
      assert.equal(status, 400);
    }
  });

  test("BAD_USER_INPUT: a variable that does not coerce", async () => {
    const { codes, status } = await refused(
      gql`
        query Page($first: Int) {
          movies(first: $first) {
            totalCount
          }
        }
      `,
      { variables: { first: "five" } },
    );
    assert.deepEqual(codes, ["BAD_USER_INPUT"]);
    assert.equal(status, 400);
  });

  test("QUERY_TOO_DEEP: 12 fields deep", async () => {
    const { codes, status } = await refused(nested(12));
    assert.deepEqual(codes, ["QUERY_TOO_DEEP"]);
    assert.equal(status, 400);
  });

  test("QUERY_TOO_COSTLY: 40 aliased pages of 100", async () => {
    const pages = Array.from({ length: 40 }, (_, index) => `p${index}: movies(first: 100) { edges { node { title } } }`);
    const { codes, status } = await refused(gql(`query Costly { ${pages.join(" ")} }`));
    assert.deepEqual(codes, ["QUERY_TOO_COSTLY"]);
    assert.equal(status, 400);
  });

  test("BATCH_TOO_LARGE: a JSON array of 11 operations (plain fetch)", async () => {
    const operations = Array.from({ length: 11 }, () => ({ query: "{ __typename }" }));
    const { status, body } = await rawGraphQL(operations);
    assert.equal(status, 400);
    // One result per entry, each with the refusal: what a batching client hands to each operation.
    assert.equal(body.length, 11);
    for (const result of body) {
      assert.deepEqual(
        result.errors.map((error) => error.extensions?.code),
        ["BATCH_TOO_LARGE"],
      );
    }
  });

  // A refused batch answers one result per operation, so BatchHttpLink gives each its code (only clients that
  // raise batchMax above the server's 10 meet this one: BatchHttpLink's default is 10).
  test("BATCH_TOO_LARGE: BatchHttpLink with 11 operations in one batch", async () => {
    const recorder = recordingFetch();
    const batch = new BatchHttpLink({ uri: url, fetch: recorder.fetch, batchMax: 11, batchInterval: 20 });
    const { client } = apolloClient({ terminating: batch });
    const names = Array.from({ length: 11 }, (_, index) => `Op${index}`);
    const outcomes = await Promise.allSettled(
      names.map((name) => client.query({ query: gql(`query ${name} { __typename }`), fetchPolicy: "network-only" })),
    );
    assert.equal(recorder.requests.length, 1);
    assert.equal(recorder.requests[0].status, 400);
    for (const outcome of outcomes) {
      assert.equal(outcome.status, "rejected");
      assert.deepEqual(errorCodes(outcome.reason), ["BATCH_TOO_LARGE"]);
    }
  });
});

describe("more request limits and refusals", () => {
  test("TOO_MANY_ALIASES: 51 aliases", async () => {
    const aliases = Array.from({ length: 51 }, (_, index) => `a${index}: __typename`);
    const { codes, status } = await refused(gql(`query Aliases { ${aliases.join(" ")} }`));
    assert.deepEqual(codes, ["TOO_MANY_ALIASES"]);
    assert.equal(status, 400);
  });

  test("TOO_MANY_MUTATIONS: 6 mutations in one operation", async () => {
    const fields = Array.from({ length: 6 }, (_, index) => `m${index}: deleteRating(movieId: "${toyStoryId}") { errors { code } }`);
    const { client, requests } = apolloClient({ token: account.token });
    const error = await failure(client.mutate({ mutation: gql(`mutation Many { ${fields.join(" ")} }`) }));
    assert.deepEqual(errorCodes(error), ["TOO_MANY_MUTATIONS"]);
    assert.equal(requests[0].status, 400);
  });

  test("DOCUMENT_TOO_LARGE: a 101 KB document", async () => {
    const { codes, status } = await refused(
      gql(`query Large { movies(search: "${"x".repeat(101 * 1024)}", first: 1) { totalCount } }`),
    );
    assert.deepEqual(codes, ["DOCUMENT_TOO_LARGE"]);
    assert.equal(status, 413);
  });

  test("FORBIDDEN: a staff-only mutation", async () => {
    const { client } = apolloClient({ token: account.token });
    const error = await failure(
      client.mutate({
        mutation: gql`
          mutation Retrain {
            retrainRecommender {
              errors {
                code
              }
            }
          }
        `,
      }),
    );
    assert.deepEqual(errorCodes(error), ["FORBIDDEN"]);
  });

  test("PERSISTED_QUERY_HASH_MISMATCH, _NOT_FOUND, _NOT_SUPPORTED and BAD_REQUEST (plain fetch)", async () => {
    const mismatch = await rawGraphQL({
      query: "{ __typename }",
      extensions: { persistedQuery: { version: 1, sha256Hash: "0".repeat(64) } },
    });
    assert.equal(mismatch.status, 400);
    assert.deepEqual(
      mismatch.body.errors.map((error) => error.extensions?.code),
      ["PERSISTED_QUERY_HASH_MISMATCH"],
    );
    const unknown = await rawGraphQL({
      extensions: { persistedQuery: { version: 1, sha256Hash: createHash("sha256").update(unique("q")).digest("hex") } },
    });
    assert.deepEqual(
      unknown.body.errors.map((error) => error.extensions?.code),
      ["PERSISTED_QUERY_NOT_FOUND"],
    );
    const version = await rawGraphQL({
      query: "{ __typename }",
      extensions: { persistedQuery: { version: 2, sha256Hash: "0".repeat(64) } },
    });
    assert.deepEqual(
      version.body.errors.map((error) => error.extensions?.code),
      ["PERSISTED_QUERY_NOT_SUPPORTED"],
    );
    const notJson = await rawGraphQL("{ not json");
    assert.equal(notJson.status, 400);
    assert.deepEqual(
      notJson.body.errors.map((error) => error.extensions?.code),
      ["BAD_REQUEST"],
    );
  });
});

describe("request errors (Accept: application/json)", () => {
  test("GRAPHQL_VALIDATION_FAILED arrives with 200, as clients of application/json expect", async () => {
    const { client, requests } = apolloClient({ httpOptions: { headers: { accept: "application/json" } } });
    const error = await failure(
      client.query({
        query: gql`
          query Unknown {
            movies(first: 1) {
              noSuchField
            }
          }
        `,
      }),
    );
    assert.deepEqual(errorCodes(error), ["GRAPHQL_VALIDATION_FAILED"]);
    assert.equal(requests[0].headers.get("accept"), "application/json");
    assert.equal(requests[0].status, 200);
    assert.match(requests[0].responseHeaders.get("content-type"), /^application\/json/);
  });
});

describe("authentication errors", () => {
  test("UNAUTHENTICATED: an anonymous mutation that needs a user", async () => {
    const { client, requests } = apolloClient();
    const error = await failure(
      client.mutate({
        mutation: gql`
          mutation Rate($movieId: ID!) {
            rateMovie(movieId: $movieId, score: 4) {
              rating {
                id
              }
              errors {
                code
              }
            }
          }
        `,
        variables: { movieId: toyStoryId },
      }),
    );
    assert.deepEqual(errorCodes(error), ["UNAUTHENTICATED"]);
    assert.equal(requests[0].status, 200);
  });

  test("INVALID_TOKEN: a token that does not verify is refused with 401 and a bearer challenge", async () => {
    const { codes, status, response } = await refused(
      gql`
        query PublicData {
          genres {
            id
            name
          }
        }
      `,
      { token: `${account.token.slice(0, -4)}AAAA` },
    );
    assert.deepEqual(codes, ["INVALID_TOKEN"]);
    assert.equal(status, 401);
    assert.match(response.responseHeaders.get("www-authenticate"), /^Bearer error="invalid_token"/);
  });
});

describe("authentication errors, batched", () => {
  // As with BATCH_TOO_LARGE: the 401 of a batch answers one result per operation, so the README's
  // refresh-and-retry error link sees the expired or invalid token in every one of them.
  test("INVALID_TOKEN reaches each operation of a BatchHttpLink batch", async () => {
    const recorder = recordingFetch();
    const batch = new BatchHttpLink({ uri: url, fetch: recorder.fetch });
    const { client } = apolloClient({ token: `${account.token.slice(0, -4)}AAAA`, terminating: batch });
    const outcomes = await Promise.allSettled([
      client.query({ query: gql`query BatchedGenres { genres { id } }` }),
      client.query({ query: gql`query BatchedMovie { movie(tmdbId: 862) { id } }` }),
    ]);
    assert.equal(recorder.requests.length, 1);
    assert.equal(recorder.requests[0].status, 401);
    for (const outcome of outcomes) {
      assert.equal(outcome.status, "rejected");
      assert.deepEqual(errorCodes(outcome.reason), ["INVALID_TOKEN"]);
    }
  });
});

describe("mutation payload errors", () => {
  const RATE = gql`
    mutation Rate($movieId: ID!, $score: Float!) {
      rateMovie(movieId: $movieId, score: $score) {
        rating {
          id
          score
        }
        errors {
          field
          code
          message
        }
      }
    }
  `;

  for (const [score, code] of [
    [3.3, "STEP_MISMATCH"],
    [6, "OUT_OF_RANGE"],
  ]) {
    test(`${code}: a score of ${score}`, async () => {
      const { client } = apolloClient({ token: account.token });
      const { data } = await client.mutate({ mutation: RATE, variables: { movieId: toyStoryId, score } });
      assert.equal(data.rateMovie.rating, null);
      assert.deepEqual(
        data.rateMovie.errors.map(({ field, code }) => [field, code]),
        [["score", code]],
      );
    });
  }

  test("NOT_FOUND: a well-formed id of no movie", async () => {
    const { client } = apolloClient({ token: account.token });
    const movieId = Buffer.from("Movie:987654321").toString("base64");
    const { data } = await client.mutate({ mutation: RATE, variables: { movieId, score: 4 } });
    assert.deepEqual(
      data.rateMovie.errors.map(({ field, code }) => [field, code]),
      [["movieId", "NOT_FOUND"]],
    );
  });

  test("UNIQUE, REQUIRED and PASSWORD_TOO_WEAK: register", async () => {
    const { client } = apolloClient();
    const REGISTER = gql`
      mutation Register($username: String!, $email: String!, $password: String!) {
        register(username: $username, email: $email, password: $password) {
          token
          errors {
            field
            code
          }
        }
      }
    `;
    const taken = await client.mutate({
      mutation: REGISTER,
      variables: { username: account.username, email: `other-${account.username}@example.com`, password: PASSWORD },
    });
    assert.deepEqual(
      taken.data.register.errors.map(({ field, code }) => [field, code]),
      [["username", "UNIQUE"]],
    );
    const weak = await client.mutate({
      mutation: REGISTER,
      variables: { username: unique("weak"), email: `${unique("weak")}@example.com`, password: "12345678" },
    });
    const empty = await client.mutate({
      mutation: REGISTER,
      variables: { username: "", email: `${unique("empty")}@example.com`, password: PASSWORD },
    });
    assert.deepEqual(
      empty.data.register.errors.map(({ field, code }) => [field, code]),
      [["username", "REQUIRED"]],
    );
    // One error per rule the password breaks (too short, too common, all digits).
    assert.deepEqual(
      new Set(weak.data.register.errors.map(({ field, code }) => `${field} ${code}`)),
      new Set(["password PASSWORD_TOO_WEAK"]),
    );
  });

  test("WRONG_PASSWORD: deleteAccount with another password (nothing is deleted)", async () => {
    const { client } = apolloClient({ token: account.token });
    const { data } = await client.mutate({
      mutation: gql`
        mutation Delete($password: String!) {
          deleteAccount(password: $password) {
            deletedUserId
            errors {
              field
              code
            }
          }
        }
      `,
      variables: { password: `${PASSWORD}-not` },
    });
    assert.equal(data.deleteAccount.deletedUserId, null);
    assert.deepEqual(
      data.deleteAccount.errors.map(({ field, code }) => [field, code]),
      [["password", "WRONG_PASSWORD"]],
    );
  });

  test("BAD_USER_INPUT: a malformed movie id", async () => {
    const { client } = apolloClient({ token: account.token });
    const { data } = await client.mutate({ mutation: RATE, variables: { movieId: "not-an-id", score: 4 } });
    assert.deepEqual(
      data.rateMovie.errors.map(({ field, code }) => [field, code]),
      [["movieId", "BAD_USER_INPUT"]],
    );
  });
});
