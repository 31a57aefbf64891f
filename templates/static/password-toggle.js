// authd: the show-password toggle. Each button carrying data-password-toggle="<input id>"
// (hidden without JavaScript) switches that input between hidden and shown text; the input
// goes back to hidden before the form is sent, so the browser never keeps it as plain text.
(function () {
  'use strict';
  var buttons = document.querySelectorAll('button[data-password-toggle]');
  Array.prototype.forEach.call(buttons, function (button) {
    var input = document.getElementById(button.getAttribute('data-password-toggle'));
    if (!input) { return; }
    var set = function (shown) {
      input.type = shown ? 'text' : 'password';
      button.setAttribute('aria-pressed', shown ? 'true' : 'false');
      button.textContent = shown ? 'Hide' : 'Show';
      button.setAttribute('aria-label', shown ? 'Hide password' : 'Show password');
    };
    set(false);
    button.hidden = false;
    button.addEventListener('click', function () { set(input.type === 'password'); });
    if (input.form) {
      input.form.addEventListener('submit', function () { set(false); });
    }
  });
})();
