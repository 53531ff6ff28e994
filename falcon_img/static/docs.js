/* Starts Swagger UI on the docs page, on this server's OpenAPI document.
   A file of its own because the pages' Content-Security-Policy runs no inline script. */
'use strict';

window.ui = SwaggerUIBundle({
  url: '/api/v1.0/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  // The default sends the document to an outside validator; this page talks to its own server only.
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
  tryItOutEnabled: false,
  displayRequestDuration: true,
  persistAuthorization: true,
});
