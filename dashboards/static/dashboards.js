// Draws the dashboard figures from their JSON and follows a clicked element's link.
(function () {
  "use strict";

  function draw() {
    document.querySelectorAll(".dash-figure").forEach(function (box) {
      var source = box.querySelector("script[type='application/json']");
      if (!source || !window.Plotly) {
        return;
      }
      var figure = JSON.parse(source.textContent);
      var config = {displaylogo: false, responsive: true};
      window.Plotly.newPlot(box, figure.data, figure.layout, config).then(function () {
        box.on("plotly_click", function (event) {
          var point = event.points && event.points[0];
          var link = point && point.customdata;
          // A point whose customdata also feeds its hover text carries its link last.
          if (Array.isArray(link)) {
            link = link[link.length - 1];
          }
          // Same-origin paths only: the links are built by the server.
          if (typeof link === "string" && link.charAt(0) === "/" && link.charAt(1) !== "/") {
            window.location.assign(link);
          }
        });
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
  // Printing: figures take the page width.
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll(".dash-figure.js-plotly-plot").forEach(function (box) {
      window.Plotly.Plots.resize(box);
    });
  });
})();
