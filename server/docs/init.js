// The interactive page of GET /docs: Swagger UI on the document this server
// serves (GET /openapi.yaml), "Try it out" sending to this same server.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.yaml",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    validatorUrl: null,
    tryItOutEnabled: false,
    supportedSubmitMethods: ["get", "post"],
    // The document names the default address (127.0.0.1:8080); "Try it out"
    // goes to the server that served this page, whatever its address.
    requestInterceptor: function (req) {
      var u = new URL(req.url, window.location.href);
      u.protocol = window.location.protocol;
      u.host = window.location.host;
      req.url = u.toString();
      return req;
    },
  });
});
