// carekey: progressive enhancement only; every screen works without JavaScript.
(function () {
  "use strict";
  // Show a preview of the chosen image before upload, so a bad capture can be redone at once.
  document.querySelectorAll("input[type=file][data-preview]").forEach(function (input) {
    input.addEventListener("change", function () {
      var img = document.getElementById(input.dataset.preview);
      if (!img) return;
      if (input.files && input.files[0]) {
        img.src = URL.createObjectURL(input.files[0]);
        img.hidden = false;
      } else {
        img.hidden = true;
      }
    });
  });
  // Capture: offer only the fingers, or only the eyes, of the chosen modality.
  var modality = document.getElementById("f-modality");
  var position = document.getElementById("f-position");
  if (modality && position) {
    var sync = function () {
      position.querySelectorAll("optgroup").forEach(function (g) {
        var on = g.label === modality.value;
        g.hidden = !on;
        g.disabled = !on;
      });
      var chosen = position.selectedOptions[0];
      if (!chosen || chosen.parentElement.label !== modality.value) {
        var first = position.querySelector("optgroup[label='" + modality.value + "'] option");
        if (first) first.selected = true;
      }
    };
    modality.addEventListener("change", sync);
    sync();
  }
  // Guardian section: shown only for a person under 18, with the rule that applies (12-17 or under 12).
  // Age from the birth year alone is taken as the lower bound, as the server does.
  var guardian = document.getElementById("guardian");
  var year = document.querySelector("input[data-birth-year]");
  function applyAge(age) {
    if (!guardian) return;
    var known = age !== null && !isNaN(age);
    guardian.classList.toggle("hidden-by-age", known && age >= 18);
    guardian.querySelectorAll(".rule-minor").forEach(function (p) { p.hidden = known && !(age >= 12 && age < 18); });
    guardian.querySelectorAll(".rule-child").forEach(function (p) { p.hidden = known && !(age < 12); });
  }
  if (guardian && year) {
    var update = function () {
      var y = parseInt(year.value, 10);
      applyAge(isNaN(y) ? null : Math.max(0, parseInt(year.dataset.birthYear, 10) - y - 1));
    };
    year.addEventListener("input", update);
    update();
  } else if (guardian && guardian.dataset.age !== "") {
    applyAge(parseInt(guardian.dataset.age, 10));
  }
})();
