// What every client test shares: the server's URL (NEXUS_URL), accounts of their own made through `register`, and
// Apollo clients whose requests are recorded, so that a test can say what went over the wire.
import { randomBytes } from "node:crypto";

import { ApolloClient, ApolloLink, CombinedGraphQLErrors, HttpLink, InMemoryCache } from "@apollo/client";
import { SetContextLink } from "@apollo/client/link/context";

export const url = process.env.NEXUS_URL;
if (!url) {
  throw new Error("set NEXUS_URL to a running server's GraphQL endpoint, e.g. http://127.0.0.1:8000/graphql");
}

export const PASSWORD = "client-tests-Quiet-Harbor-58";
// Apollo Client 4's default Accept header, for the requests made without Apollo.
export const APOLLO_ACCEPT = "application/graphql-response+json,application/json;q=0.9";

/** A name no other run has used: every account and every persisted document of a run is its own. */
export const unique = (prefix) => `${prefix}${randomBytes(5).toString("hex")}`;

/** A fetch that remembers each request (method, URL, headers, body) and the status and headers of its answer. */
export function recordingFetch() {
  const requests = [];
  const fetchFn = async (input, init = {}) => {
    const response = await fetch(input, init);
    requests.push({
      method: (init.method ?? "GET").toUpperCase(),
      url: String(input),
      headers: new Headers(init.headers),
      body: typeof init.body === "string" ? init.body : undefined,
      status: response.status,
      responseHeaders: response.headers,
    });
    return response;
  };
  return { fetch: fetchFn, requests };
}

/** One GraphQL request without Apollo: for what Apollo cannot send (a document that does not parse). */
export async function rawGraphQL(body, { accept = APOLLO_ACCEPT, token } = {}) {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Accept: accept,
      ...(token && { Authorization: `Bearer ${token}` }),
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

/** A new account on the server; returns its access token. */
export async function register(prefix = "client") {
  const username = unique(prefix);
  const { body } = await rawGraphQL({
    query: `mutation($u: String!, $e: String!, $p: String!) {
      register(username: $u, email: $e, password: $p) { token user { id username } errors { field code message } }
    }`,
    variables: { u: username, e: `${username}@example.com`, p: PASSWORD },
  });
  const payload = body.data?.register;
  if (!payload?.token) throw new Error(`register failed: ${JSON.stringify(body)}`);
  return { username, token: payload.token, userId: payload.user.id };
}

/** The auth link of the README: `Authorization: Bearer <token>` on every request while a token is set. */
export function authLink(getToken) {
  return new SetContextLink(({ headers }) => {
    const token = getToken();
    return { headers: { ...headers, ...(token && { authorization: `Bearer ${token}` }) } };
  });
}

/** An Apollo client as our users build one: auth link, then the given terminating link (HttpLink by default). */
export function apolloClient({ token, links = [], terminating, cache = new InMemoryCache(), httpOptions = {} } = {}) {
  const recorder = recordingFetch();
  const last = terminating ?? new HttpLink({ uri: url, fetch: recorder.fetch, ...httpOptions });
  const client = new ApolloClient({
    link: ApolloLink.from([authLink(() => token), ...links, last]),
    cache,
  });
  return { client, requests: recorder.requests, fetch: recorder.fetch };
}

/** The `extensions.code`s of an Apollo error (GraphQL errors, whatever the HTTP status they came with). */
export function errorCodes(error) {
  if (!CombinedGraphQLErrors.is(error)) {
    throw new Error(`expected GraphQL errors, got ${error?.name}: ${error?.message}`, { cause: error });
  }
  return error.errors.map((entry) => entry.extensions?.code);
}

/** The error an Apollo operation fails with (Apollo Client 4 rejects on errors by default). */
export async function failure(promise) {
  try {
    const result = await promise;
    throw new Error(`expected an error, got ${JSON.stringify(result)}`);
  } catch (error) {
    if (error?.message?.startsWith("expected an error")) throw error;
    return error;
  }
}
