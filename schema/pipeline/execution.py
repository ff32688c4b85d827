"""graphql-core's execution, with every root field run as the request's identity (schema/pipeline/identity.py).

The identity is decided once per request, so nothing is checked per nested field: before each root field the
request's user is set back to it — a login earlier in the request changed only its own payload — and a root field
that needs credentials is refused, at its place in the answer, when the request's credentials do not verify.
Fields below may return deferred values that the request's loaders load in batches (schema/core/deferred.py), and
an object's subtree may come rendered from its card (schema/core/shared_renders.py).
"""

from graphql import located_error
from graphql.execution.execute import get_field_def
from graphql.pyutils import Undefined

from schema.core.shared_renders import SharedRenderExecutionContext
from schema.pipeline.identity import request_identity, root_field_refusal


class IdentityExecutionContext(SharedRenderExecutionContext):
    def execute_field(self, parent_type, source, field_nodes, path):
        if path.prev is None:
            request = self.context_value
            request.user = request_identity(request).user()
            problem = root_field_refusal(request, parent_type, field_nodes[0].name.value)
            if problem is not None:
                field_def = get_field_def(self.schema, parent_type, field_nodes[0])
                if field_def is None:
                    return Undefined
                self.handle_field_error(located_error(problem, field_nodes, path.as_list()), field_def.type, path)
                return None
        return super().execute_field(parent_type, source, field_nodes, path)
