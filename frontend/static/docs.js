// The API docs: Swagger UI on the app's OpenAPI schema. A file of its own, as the page's
// Content-Security-Policy allows no inline script.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // validatorUrl null: Swagger UI would otherwise send the schema to an online validator.
  SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", validatorUrl: null, deepLinking: true });
});
