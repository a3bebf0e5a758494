// Progressive enhancement only: the forms work without it. A form with data-progress shows that
// message while its request runs (large files, meetings) and is not sent twice.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var message = form.getAttribute("data-progress");
  if (!message) return;
  if (form.dataset.sent) { event.preventDefault(); return; }
  form.dataset.sent = "1";
  var p = form.querySelector(".progress");
  if (p) { p.textContent = message; p.hidden = false; }
});

// The minutes grid (form[data-draft]) is saved as the draft while the secretary types: a second after
// the last change, the form is sent as it stands (a save, never "approve all"); the page says when.
// Without this script the "save" button does the same.
(function () {
  var form = document.querySelector("form[data-draft]");
  if (!form || !window.fetch || !window.FormData) return;
  var state = form.querySelector(".draft-state");
  var timer = null;
  function save() {
    var data = new FormData(form);
    data.set("action", "save");
    // form.getAttribute: the grid has a button named "action", which form.action would return
    fetch(form.getAttribute("action"), { method: "POST", body: data, credentials: "same-origin", redirect: "manual" })
      .then(function (response) {
        if (!state) return;
        var ok = response.type === "opaqueredirect" || response.status === 303;
        var now = new Date();
        var hhmm = ("0" + now.getHours()).slice(-2) + ":" + ("0" + now.getMinutes()).slice(-2);
        state.textContent = ok
          ? "Đã lưu nháp lúc " + hhmm + " (hợp lệ)"
          : response.status === 400
            ? "Đã lưu nháp lúc " + hhmm + "; còn lỗi: bấm «Lưu và kiểm tra» để xem"
            : "Chưa lưu được nháp (" + response.status + ")";
      })
      .catch(function () { if (state) state.textContent = "Chưa lưu được nháp (mất kết nối)"; });
  }
  var sent = false;
  form.addEventListener("submit", function () {  // the button's own save (or "approve all") wins
    sent = true;
    if (timer) clearTimeout(timer);
  });
  form.addEventListener("input", function () {
    if (sent) return;
    if (timer) clearTimeout(timer);
    if (state) state.textContent = "Đang nhập…";
    timer = setTimeout(save, 1000);
  });
})();
