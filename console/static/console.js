// leakguard console: progressive enhancement only. Every action works
// without this script; it keeps the permission preview in step with the
// new-key form and makes the "Copy" button copy.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  var form = document.getElementById("keyform");
  var target = document.getElementById("preview");
  if (form && target && window.fetch) {
    var timer = null, seq = 0;
    var refresh = function () {
      var mine = ++seq;
      fetch(form.getAttribute("data-preview"), {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        credentials: "same-origin",
        headers: { "Accept": "text/html" }
      }).then(function (r) {
        if (!r.ok) { throw new Error("preview " + r.status); }
        return r.text();
      }).then(function (html) {
        if (mine !== seq) { return; } // an older answer arriving late
        // The fragment is our own server's html/template output.
        target.innerHTML = html;
        target.setAttribute("data-updated", String(mine));
      }).catch(function () { /* the "Update preview" button still works */ });
    };
    var later = function () {
      clearTimeout(timer);
      timer = setTimeout(refresh, 120);
    };
    form.addEventListener("change", later);
    form.addEventListener("input", later);
  }

  document.querySelectorAll("[data-copy]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var input = document.getElementById(btn.getAttribute("data-copy"));
      var status = document.querySelector(".copied");
      var done = function (ok) {
        if (status) { status.textContent = ok ? "Copied to the clipboard." : "Select the key and copy it with Ctrl+C / ⌘C."; }
        if (ok) { btn.textContent = "Copied"; }
      };
      input.focus();
      input.select();
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(input.value).then(function () { done(true); }, function () {
          done(document.execCommand && document.execCommand("copy"));
        });
      } else {
        done(document.execCommand && document.execCommand("copy"));
      }
    });
  });
})();
