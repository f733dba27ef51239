// Shows how much of a file has been sent while the upload form posts it,
// then shows the page the server answers with (the import's result or its
// report). Without this script the form posts as any form does.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  var box = document.getElementById("upload-progress");
  if (!form || !box || !window.FormData || !window.XMLHttpRequest) return;
  var bar = box.querySelector("progress");
  var label = document.getElementById("upload-progress-label");
  var en = document.documentElement.lang === "en";
  form.addEventListener("submit", function (ev) {
    if (form.querySelector("input[name=report]:checked")) return; // a workbook comes back: let the browser save it
    ev.preventDefault();
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    box.hidden = false;
    form.querySelector("button[type=submit]").disabled = true;
    xhr.upload.onprogress = function (e) {
      if (!e.lengthComputable) return;
      var pct = Math.round((100 * e.loaded) / e.total);
      bar.value = pct;
      label.textContent = (en ? "Sent " : "Đã gửi ") + pct + "%";
    };
    xhr.upload.onload = function () {
      bar.removeAttribute("value");
      label.textContent = en ? "Checking and writing the rows…" : "Đang kiểm tra và ghi dữ liệu…";
    };
    xhr.onload = function () {
      document.open();
      document.write(xhr.responseText);
      document.close();
    };
    xhr.onerror = function () {
      form.querySelector("button[type=submit]").disabled = false;
      label.textContent = en ? "The upload failed: check the connection and try again." : "Gửi tệp không thành công: kiểm tra kết nối rồi thử lại.";
    };
    xhr.send(new FormData(form));
  });
})();
