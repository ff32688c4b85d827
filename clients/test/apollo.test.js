// Apollo Client 4 against a live Nexus: the auth link, the normalized cache after mutations, relay pagination,
// automatic persisted queries over GET and POST, and batching.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { before, describe, test } from "node:test";

import { gql, HttpLink, InMemoryCache } from "@apollo/client";
import { BatchHttpLink } from "@apollo/client/link/batch-http";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { relayStylePagination } from "@apollo/client/utilities";
import { filter, firstValueFrom } from "rxjs";

import { apolloClient, recordingFetch, register, unique, url } from "../support.js";

const sha256 = (text) => createHash("sha256").update(text).digest("hex");

const TOY_STORY = gql`
  query ToyStory {
    movie(tmdbId: 862) {
      id
      title
    }
  }
`;

let account;
let toyStoryId;
before(async () => {
  account = await register("apollo");
  const { client } = apolloClient();
  toyStoryId = (await client.query({ query: TOY_STORY })).data.movie.id;
});

describe("auth link", () => {
  const ME = gql`
    query Me {
      me {
        id
        username
      }
    }
  `;

  test("sends the bearer token: me is the account", async () => {
    const { client, requests } = apolloClient({ token: account.token });
    const { data } = await client.query({ query: ME });
    assert.equal(data.me.username, account.username);
    assert.equal(data.me.id, account.userId);
    assert.equal(requests[0].headers.get("authorization"), `Bearer ${account.token}`);
  });

  test("without a token, me is null", async () => {
    const { client, requests } = apolloClient();
    const { data } = await client.query({ query: ME });
    assert.equal(data.me, null);
    assert.equal(requests[0].headers.get("authorization"), null);
  });
});

describe("normalized cache (InMemoryCache, no type policies)", () => {
  const RATE = gql`
    mutation Rate($movieId: ID!, $score: Float!) {
      rateMovie(movieId: $movieId, score: $score) {
        rating {
          id
          score
          updatedAt
          movie {
            id
            myRating
            ratingCount
          }
        }
        errors {
          field
          code
        }
      }
    }
  `;
  const MY_RATINGS = gql`
    query MyRatings {
      me {
        id
        ratings(first: 10) {
          totalCount
          edges {
            node {
              id
              score
              movie {
                id
                title
                myRating
              }
            }
          }
        }
      }
    }
  `;

  test("a re-rating shows in the cached me.ratings without a refetch", async () => {
    const rater = await register("cache");
    const { client, requests } = apolloClient({ token: rater.token });
    const first = await client.mutate({ mutation: RATE, variables: { movieId: toyStoryId, score: 4 } });
    assert.deepEqual(first.data.rateMovie.errors, []);
    const ratingId = first.data.rateMovie.rating.id;

    const listed = await client.query({ query: MY_RATINGS });
    assert.deepEqual(
      listed.data.me.ratings.edges.map(({ node }) => [node.id, node.score]),
      [[ratingId, 4]],
    );

    const second = await client.mutate({ mutation: RATE, variables: { movieId: toyStoryId, score: 2.5 } });
    assert.equal(second.data.rateMovie.rating.id, ratingId, "a re-rating keeps the rating's id");
    const sent = requests.length;

    const cached = await client.query({ query: MY_RATINGS, fetchPolicy: "cache-only" });
    const [edge] = cached.data.me.ratings.edges;
    assert.equal(edge.node.score, 2.5);
    assert.equal(edge.node.movie.myRating, 2.5);
    assert.equal(requests.length, sent, "read from the cache, not the server");
    assert.equal(client.cache.extract()[`Rating:${ratingId}`].score, 2.5);
  });
});

describe("relay pagination (relayStylePagination, fetchMore)", () => {
  const PAGE_SIZE = 25;
  const PAGES = 4;
  const MOVIES = gql`
    query MoviesByTitle($first: Int!, $after: String) {
      movies(genres: ["Animation"], orderBy: { field: TITLE, direction: ASC }, first: $first, after: $after) {
        totalCount
        pageInfo {
          hasNextPage
          endCursor
        }
        edges {
          cursor
          node {
            id
            title
          }
        }
      }
    }
  `;

  test("pages chain through endCursor with no repeats, merged in the cache", async () => {
    const cache = new InMemoryCache({
      typePolicies: { Query: { fields: { movies: relayStylePagination(["genres", "orderBy"]) } } },
    });
    const { client, requests } = apolloClient({ cache });
    const observable = client.watchQuery({ query: MOVIES, variables: { first: PAGE_SIZE } });
    const subscription = observable.subscribe(() => {});
    try {
      const initial = await firstValueFrom(observable.pipe(filter((result) => result.dataState === "complete")));
      const { totalCount } = initial.data.movies;
      assert.ok(totalCount > PAGES * PAGE_SIZE, `only ${totalCount} animated movies`);

      const seen = initial.data.movies.edges.map(({ node }) => node.id);
      let pageInfo = initial.data.movies.pageInfo;
      for (let page = 2; page <= PAGES; page += 1) {
        assert.ok(pageInfo.hasNextPage);
        const more = await observable.fetchMore({ variables: { after: pageInfo.endCursor } });
        const fetched = more.data.movies.edges;
        assert.equal(fetched.length, PAGE_SIZE);
        seen.push(...fetched.map(({ node }) => node.id));
        pageInfo = more.data.movies.pageInfo;
      }
      assert.equal(new Set(seen).size, seen.length, "a movie came twice");
      assert.equal(requests.length, PAGES);

      // The watched query shows the pages merged, in order, as an infinite list would.
      const merged = await firstValueFrom(
        observable.pipe(filter((result) => result.data?.movies.edges.length === seen.length)),
      );
      assert.deepEqual(
        merged.data.movies.edges.map(({ node }) => node.id),
        seen,
      );
    } finally {
      subscription.unsubscribe();
    }
  });
});

describe("automatic persisted queries", () => {
  // A document of this run only, so that the server has not stored its hash yet.
  const document = () => gql`
    query ${unique("Apq")} {
      movie(tmdbId: 862) {
        id
        title
      }
    }
  `;
  const sentDocument = (request) =>
    request.method === "GET" ? new URL(request.url).searchParams.has("query") : "query" in JSON.parse(request.body);

  for (const useGETForHashedQueries of [true, false]) {
    const method = useGETForHashedQueries ? "GET" : "POST";
    test(`over ${method}: hash, then document once, then hash alone`, async () => {
      const query = document();
      const link = new PersistedQueryLink({ sha256, useGETForHashedQueries });
      const { client, requests } = apolloClient({ links: [link] });
      const first = await client.query({ query, fetchPolicy: "network-only" });
      assert.equal(first.data.movie.title, "Toy Story");
      const second = await client.query({ query, fetchPolicy: "network-only" });
      assert.equal(second.data.movie.title, "Toy Story");

      const wire = requests.map((request) => [request.method, request.status, sentDocument(request)]);
      assert.deepEqual(wire, [
        [method, 200, false], // PERSISTED_QUERY_NOT_FOUND
        ["POST", 200, true], // Apollo sends the document with its hash, over POST
        [method, 200, false], // now stored: the hash is enough
      ]);
      for (const request of requests.filter((entry) => entry.method === "GET")) {
        // Apollo's documented default: a GET carries Content-Type: application/json too.
        assert.equal(request.headers.get("content-type"), "application/json");
      }
    });
  }

  test("HttpLink with useGETForQueries (no persisted queries)", async () => {
    const { client, requests } = apolloClient({ httpOptions: { useGETForQueries: true } });
    const { data } = await client.query({ query: TOY_STORY });
    assert.equal(data.movie.title, "Toy Story");
    assert.deepEqual(
      requests.map((request) => [request.method, request.status]),
      [["GET", 200]],
    );
  });
});

describe("BatchHttpLink", () => {
  test("operations sent together travel in one request and each gets its answer", async () => {
    const recorder = recordingFetch();
    const batch = new BatchHttpLink({ uri: url, fetch: recorder.fetch, batchMax: 10, batchInterval: 20 });
    const { client } = apolloClient({ token: account.token, terminating: batch });
    const queries = [
      client.query({ query: TOY_STORY }),
      client.query({
        query: gql`
          query Genres {
            genres {
              id
              name
            }
          }
        `,
      }),
      client.query({
        query: gql`
          query Viewer {
            me {
              id
              username
            }
          }
        `,
      }),
    ];
    const [movie, genres, viewer] = await Promise.all(queries);
    assert.equal(movie.data.movie.title, "Toy Story");
    assert.ok(genres.data.genres.some((genre) => genre.name === "Animation"));
    assert.equal(viewer.data.me.username, account.username);
    assert.equal(recorder.requests.length, 1);
    assert.equal(JSON.parse(recorder.requests[0].body).length, 3);
    assert.equal(recorder.requests[0].status, 200);
  });
});
