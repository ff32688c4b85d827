#!/usr/bin/env bash
# Re-fetches the GraphiQL assets that nexus/templates/graphene/graphiql.html serves from nexus/static/graphiql/,
# so that GraphiQL works offline. The versions are the ones graphene-django's own graphiql.js is written against
# (GraphQLView.*_version); each package goes to a <name>-<version>/ folder, so an upgrade changes every URL and a
# browser never checks a new integrity hash against an old cached file.
#
# Usage: scripts/vendor_graphiql.sh   (needs npm; prints the SRI hashes to put into the template)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
destination="$repo_root/nexus/static/graphiql"
work_dir="$(mktemp -d)"
trap 'rm -rf "$work_dir"' EXIT
staged="$work_dir/staged"
mkdir -p "$staged"

# vendor PACKAGE VERSION PATH...: copies PATHs (relative to the package root) of PACKAGE@VERSION into staged/.
vendor() {
    local package="$1" version="$2"
    shift 2
    local tarball
    tarball="$(cd "$work_dir" && npm pack --silent --ignore-scripts "$package@$version")"
    local folder="${tarball%.tgz}"  # npm's own name: @graphiql/plugin-explorer -> graphiql-plugin-explorer-0.1.15
    mkdir -p "$work_dir/$folder" "$staged/$folder"
    tar -xzf "$work_dir/$tarball" -C "$work_dir/$folder" --strip-components=1
    for path in "$@"; do
        cp "$work_dir/$folder/$path" "$staged/$folder/"
    done
}

vendor graphiql 2.4.7 graphiql.min.js graphiql.min.css LICENSE
vendor react 17.0.2 umd/react.production.min.js LICENSE
vendor react-dom 17.0.2 umd/react-dom.production.min.js LICENSE
vendor whatwg-fetch 3.6.2 dist/fetch.umd.js LICENSE
vendor graphql-ws 5.13.1 umd/graphql-ws.min.js LICENSE.md
# This package ships no license file: its package.json is what declares the MIT license.
vendor @graphiql/plugin-explorer 0.1.15 dist/graphiql-plugin-explorer.umd.js dist/style.css package.json

# Swap only once every download succeeded, and drop the folders of versions no longer used (README.md stays).
mkdir -p "$destination"
find "$destination" -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
cp -R "$staged"/. "$destination"/

echo "Vendored into $destination ($(du -sh "$destination" | cut -f1)). SRI hashes for the template:"
cd "$destination"
for asset in */*.js */*.css; do
    echo "  $asset  sha256-$(openssl dgst -sha256 -binary "$asset" | openssl base64 -A)"
done
