// Small progressive enhancements for the dashboard: copy buttons and "select all" checkboxes.
// Everything works without this file; it only saves clicks.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) return;
    var field = document.getElementById(button.getAttribute("data-copy-target"));
    if (!field) return;
    var text = field.value || field.textContent;
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      button.setAttribute("data-copied", "true");
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { field.select && field.select(); document.execCommand("copy"); done(); });
    } else {
      field.select && field.select();
      document.execCommand("copy");
      done();
    }
  });
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box.matches("[data-select-all]")) {
      var scope = box.getAttribute("data-select-all");
      document.querySelectorAll("input[type=checkbox][data-select-group='" + scope + "']").forEach(function (c) { c.checked = box.checked; });
    }
    if (box.matches("[data-select-campaign]")) {
      var campaign = box.value;
      document.querySelectorAll("input[type=checkbox][data-campaign]").forEach(function (c) {
        if (c.getAttribute("data-campaign") === campaign) c.checked = true;
      });
      box.value = "";
    }
  });
})();
