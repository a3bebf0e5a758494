// Progressive enhancement only: the forms work without it. A form with data-progress shows that
// message while its request runs (large files, meetings) and is not sent twice. A form that sends a
// file is sent with XMLHttpRequest where the browser can: its <progress> bar and text follow the upload
// («Đang gửi tệp: 40% (12,5 / 31,2 MB)»), then say the file is being checked, and the server's answer
// replaces the page as a plain submission would. Without JavaScript the form is simply posted.
function megabytes(n) {
  return (n / 1048576).toFixed(1).replace(".", ",");
}

function sendWithProgress(form, submitter) {
  if (!window.XMLHttpRequest || !window.FormData) return false;
  var xhr = new XMLHttpRequest();
  if (!xhr.upload) return false;
  var data = new FormData(form);
  if (submitter && submitter.name) data.append(submitter.name, submitter.value);
  var bar = form.querySelector("progress");
  var text = form.querySelector(".progress");
  function say(message) { if (text) { text.textContent = message; text.hidden = false; } }
  if (bar) { bar.hidden = false; bar.value = 0; }
  say("Đang gửi tệp…");
  xhr.upload.addEventListener("progress", function (e) {
    if (!e.lengthComputable) return;
    var share = Math.floor((100 * e.loaded) / e.total);
    if (bar) bar.value = share;
    say("Đang gửi tệp: " + share + "% (" + megabytes(e.loaded) + " / " + megabytes(e.total) + " MB)");
  });
  xhr.upload.addEventListener("load", function () {
    if (bar) bar.removeAttribute("value");  // the server is reading the file: no share to show
    say(form.getAttribute("data-progress") || "Đã gửi xong tệp; đang xử lý…");
  });
  xhr.addEventListener("load", function () {
    if (xhr.responseURL && xhr.responseURL.split("#")[0] !== form.action.split("#")[0]) {
      window.location.assign(xhr.responseURL);  // the answer was a redirect: go where it points
      return;
    }
    document.open();
    document.write(xhr.responseText);
    document.close();
  });
  xhr.addEventListener("error", function () {
    delete form.dataset.sent;
    if (bar) bar.hidden = true;
    say("Mất kết nối khi gửi tệp; chưa lưu gì. Kiểm tra mạng rồi bấm gửi lại.");
  });
  xhr.open("POST", form.getAttribute("action"));
  xhr.send(data);
  return true;
}

document.addEventListener("submit", function (event) {
  var form = event.target;
  var message = form.getAttribute("data-progress");
  if (!message) return;
  if (form.dataset.sent) { event.preventDefault(); return; }
  form.dataset.sent = "1";
  if (form.enctype === "multipart/form-data" && form.querySelector("input[type=file]")) {
    if (sendWithProgress(form, event.submitter)) { event.preventDefault(); return; }
  }
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
  // the time in Vietnam, as the server writes every other time on the page (not the browser's zone)
  function vnTime(now) {
    try {
      return new Intl.DateTimeFormat("en-GB", {
        timeZone: "Asia/Ho_Chi_Minh", hour: "2-digit", minute: "2-digit", hour12: false
      }).format(now);
    } catch (e) {  // no time-zone data: Vietnam is UTC+7 all year
      var vn = new Date(now.getTime() + 7 * 3600 * 1000);
      return ("0" + vn.getUTCHours()).slice(-2) + ":" + ("0" + vn.getUTCMinutes()).slice(-2);
    }
  }
  function save() {
    var data = new FormData(form);
    data.set("action", "save");
    // form.getAttribute: the grid has a button named "action", which form.action would return
    fetch(form.getAttribute("action"), { method: "POST", body: data, credentials: "same-origin", redirect: "manual" })
      .then(function (response) {
        if (!state) return;
        var ok = response.type === "opaqueredirect" || response.status === 303;
        var hhmm = vnTime(new Date());
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
