// onestop: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";

  // Print buttons on the forms.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-print]");
    if (button) {
      event.preventDefault();
      window.print();
    }
  });

  // Ask before irreversible actions (refusals, stops, withdrawals).
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-confirm]");
    if (button && !window.confirm(button.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    // One click, one action: a second click while the first is on its way is ignored.
    if (form.method.toLowerCase() === "post") {
      if (form.dataset.sent) {
        event.preventDefault();
        return;
      }
      form.dataset.sent = "1";
    }
  });

  // "/" jumps to the search field of the page; Escape leaves it.
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var typing = target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement ||
      target instanceof HTMLSelectElement || target.isContentEditable;
    if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
      var fields = document.querySelectorAll("[data-search]");
      var field = fields[fields.length - 1];
      if (field) {
        event.preventDefault();
        field.focus();
        field.select();
      }
    } else if (event.key === "Escape" && target.hasAttribute && target.hasAttribute("data-search")) {
      target.blur();
    }
  });

  // Opening an action moves the keyboard into its form.
  document.addEventListener("toggle", function (event) {
    var details = event.target;
    if (details.classList && details.classList.contains("action") && details.open) {
      var field = details.querySelector("select, textarea, input:not([type=hidden]), button");
      if (field) field.focus();
    }
  }, true);
})();
