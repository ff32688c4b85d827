// Runs before graphene-django's graphiql.js (nexus/templates/graphene/graphiql.html), which it adapts:
// - a shared link /graphql?query=…&variables=…&operationName=… opens with that query. graphene-django's script
//   reads its parameters from the fragment only and sends every request to the page's own URL, so the query string
//   would override each request's document (the schema's introspection included). The parameters move into the
//   fragment, and the address becomes /graphql#query=…, which the script keeps in step while typing.
// - the first tab shows an example of this API instead of GraphiQL's generic welcome text.
(function (window) {
  "use strict";

  var NEXUS_EXAMPLE = `# Nexus: movies from MovieLens and TMDb, ratings, a library and recommendations.
# Run an operation with ▶ (or Ctrl-Enter) and pick it by name; Docs (top left) lists every field.

# Browse: the best-rated comedies of the 1990s
query Browse {
  movies(first: 5, genres: ["Comedy"], yearFrom: 1990, yearTo: 1999, minVotes: 20,
         orderBy: {field: RATING, direction: DESC}) {
    totalCount
    edges { node { id title year ratingMean genres { name } } }
  }
}

# One movie by any of its ids, and the movies most like it; search is typo-tolerant
query Movie {
  movie(tmdbId: 862) { title year overview runtime genres { name } similar(first: 5) { title } }
  movies(search: "godfahter", first: 3) { edges { node { title year } } }
}

# Sign up (or sign in with tokenAuth), then paste the token into the Headers pane below:
#   {"Authorization": "Bearer <token>"}
# Tokens live 15 minutes; refreshToken(refreshToken: "…") gives a new pair.
mutation SignUp {
  register(username: "ada", email: "ada@example.com", password: "a long passphrase",
           favoriteGenres: ["Sci-Fi"]) { token refreshToken errors { field message code } }
}

mutation SignIn {
  tokenAuth(username: "ada", password: "a long passphrase") { token refreshToken }
}

# With the header set: your account, and recommendations with their reasons
query Me {
  me { username favoriteGenres { name } ratings(first: 5) { totalCount edges { node { score movie { title } } } } }
  recommendations(first: 5) { movie { title year } score source reason }
}
`;

  var names = ["query", "variables", "operationName"];
  var search = new URLSearchParams(window.location.search);
  if (names.some(function (name) { return search.has(name); })) {
    var fragment = new URLSearchParams(window.location.hash.slice(1));
    names.forEach(function (name) {
      if (search.has(name)) {
        fragment.set(name, search.get(name));
        search.delete(name);
      }
    });
    var rest = search.toString();
    // graphene-django's script decodes the fragment with decodeURIComponent: spaces as %20, never "+".
    var encoded = [];
    fragment.forEach(function (value, name) {
      encoded.push(encodeURIComponent(name) + "=" + encodeURIComponent(value));
    });
    window.history.replaceState(
      null, "", window.location.pathname + (rest ? "?" + rest : "") + "#" + encoded.join("&")
    );
  }

  // The example is GraphiQL's defaultQuery: the first visit's tab and every new tab (stored tabs still win).
  var GraphiQL = window.GraphiQL;
  var React = window.React;
  function NexusGraphiQL(props) {
    return React.createElement(GraphiQL, Object.assign({ defaultQuery: NEXUS_EXAMPLE }, props));
  }
  Object.assign(NexusGraphiQL, GraphiQL); // GraphiQL.createFetcher and the other statics the script uses
  window.GraphiQL = NexusGraphiQL;
})(window);
