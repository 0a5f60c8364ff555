// Reading the JSON schema the server publishes for a definition (GET /api/experiments/draft): each field's
// default, bounds and title, so a form states the server's rules rather than a copy of them.

function resolve(schema, node) {
  let current = node;
  while (current) {
    if (current.$ref) current = schema.$defs[current.$ref.split("/").pop()];
    else if (current.anyOf) current = current.anyOf.find((branch) => branch.type !== "null");
    else return current;
  }
  return current;
}

/** The schema of the field at `path` (keys, or "*" for an array's items); undefined if there is none. */
export function fieldSchema(schema, path) {
  let node = schema;
  for (const key of path) {
    node = resolve(schema, node);
    if (!node) return undefined;
    node = key === "*" ? node.items : (node.properties || {})[key];
  }
  return resolve(schema, node);
}

/** Give a number input the field's bounds (an exclusive bound as the inclusive one: the server refuses it). */
export function applyBounds(input, field) {
  if (!field) return;
  const low = field.minimum ?? field.exclusiveMinimum;
  const high = field.maximum ?? field.exclusiveMaximum;
  if (low !== undefined) input.min = String(low);
  if (high !== undefined) input.max = String(high);
  if (field.type === "number") input.step = "any";
}

/** The field's name in words: its schema title ("Learning Rate" -> "learning rate"), else its key. */
export function fieldName(schema, path) {
  const field = fieldSchema(schema, path);
  const key = [...path].reverse().find((k) => k !== "*") ?? "";
  return field && field.title ? field.title.toLowerCase() : String(key).replaceAll("_", " ");
}
