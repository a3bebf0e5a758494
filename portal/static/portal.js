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
