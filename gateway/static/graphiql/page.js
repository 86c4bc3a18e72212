// The gateway's GraphiQL page: Strawberry's, with the assets served by the gateway itself
// and no subscriptions (the gateway serves none). A script file, not inline, so the page's
// Content-Security-Policy can say script-src 'self'.
"use strict";

const EXAMPLE_QUERY = `# 监管网关 GraphiQL / Jianguan Gateway GraphiQL
#
# 未带令牌时只能查询公开数据（监管事项、检查实施清单、执法人员、部门、许可事项）。
# 需要令牌时，在下方 Headers 面板填写：
# Without a token only public data answers; to send one, put it in the Headers pane below:
#
#     {"Authorization": "Bearer <token>"}
#
# 运行 / Run: Ctrl-Enter

{
  matters(first: 5) {
    totalCount
    edges { node { matterCode name department { name } } }
  }
}
`;

const parameters = {};
for (const entry of window.location.search.slice(1).split("&")) {
  const eq = entry.indexOf("=");
  if (eq >= 0) {
    parameters[decodeURIComponent(entry.slice(0, eq))] = decodeURIComponent(entry.slice(eq + 1));
  }
}

function updateURL(data) {
  Object.assign(parameters, data);
  const search = Object.keys(parameters)
    .filter((key) => Boolean(parameters[key]))
    .map((key) => encodeURIComponent(key) + "=" + encodeURIComponent(parameters[key]))
    .join("&");
  history.replaceState(null, null, "?" + search);
}

const fetcher = GraphiQL.createFetcher({ url: window.location.href.split("?")[0] });

function GatewayGraphiQL() {
  const [query, setQuery] = React.useState(parameters.q || EXAMPLE_QUERY);
  const [variables, setVariables] = React.useState(parameters.variables);
  const [headers, setHeaders] = React.useState(parameters.headers);
  const explorer = GraphiQLPluginExplorer.explorerPlugin();
  return React.createElement(GraphiQL, {
    fetcher: fetcher,
    defaultEditorToolsVisibility: true,
    plugins: [explorer],
    query: query,
    variables: variables,
    headers: headers,
    onEditQuery: (text) => {
      setQuery(text);
      updateURL({ q: text });
    },
    onEditVariables: (text) => {
      setVariables(text);
      updateURL({ variables: text });
    },
    onEditHeaders: setHeaders, // never in the URL: headers hold bearer tokens
    inputValueDeprecation: true,
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: false, // nor in localStorage
  });
}

ReactDOM.createRoot(document.getElementById("graphiql")).render(
  React.createElement(GatewayGraphiQL)
);
