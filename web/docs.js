// Swagger UI over this server's schema. A file of ours, not an inline script, so that
// /docs runs under the pages' Content-Security-Policy.
window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
