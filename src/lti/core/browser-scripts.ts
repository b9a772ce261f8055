/**
 * The browser side of LTI flows, served from /lti/assets/ (CSP allows scripts from Cairn's
 * origin only, never inline). Plain ES2017 so any browser an LMS supports runs it.
 *
 * storage.js implements the tool side of the LTI Client Side postMessages (lti.capabilities)
 * and postMessage Storage (lti.put_data / lti.get_data) specs: the platform frame named by
 * `lti_storage_target` keeps a value for us when third-party cookies are blocked.
 */
const storage = String.raw`(function () {
  'use strict';
  var el = document.getElementById('lti-storage');
  if (!el) return;
  var d = el.dataset;
  var platformOrigin = d.origin;
  var timeoutMs = Number(d.timeout || '4000');
  var parentWindow = window.opener || window.parent;

  function randomId() {
    var a = new Uint8Array(12);
    crypto.getRandomValues(a);
    return 'cairn-' + Array.prototype.map.call(a, function (b) { return ('0' + b.toString(16)).slice(-2); }).join('');
  }

  // One request, one answer with the same message_id and subject + '.response'.
  function send(target, message, origin, acceptAnyOrigin) {
    return new Promise(function (resolve, reject) {
      message.message_id = randomId();
      var timer = setTimeout(function () { done(); reject({ code: 'timeout', message: 'No answer to ' + message.subject }); }, timeoutMs);
      function done() { clearTimeout(timer); window.removeEventListener('message', onMessage); }
      function onMessage(event) {
        var data = event.data;
        if (!data || typeof data !== 'object' || data.message_id !== message.message_id) return;
        if (!acceptAnyOrigin && event.origin !== origin) return;
        if (data.subject !== message.subject + '.response') return;
        done();
        if (data.error) reject(data.error); else resolve(data);
      }
      window.addEventListener('message', onMessage);
      try { target.postMessage(message, origin); } catch (e) { done(); reject({ code: 'post_failed', message: String(e) }); }
    });
  }

  function frameByName(name) {
    if (!name || name === '_parent') return parentWindow;
    try { if (parentWindow.frames[name]) return parentWindow.frames[name]; } catch (e) { /* fall through */ }
    return parentWindow;
  }

  // The capabilities answer names the frame that stores data; lti_storage_target is the fallback.
  function storageFrame(subject) {
    return send(parentWindow, { subject: 'lti.capabilities' }, '*', true).then(function (caps) {
      var list = caps.supported_messages || [];
      for (var i = 0; i < list.length; i++) if (list[i].subject === subject) return frameByName(list[i].frame || d.target);
      throw { code: 'unsupported', message: subject + ' is not supported by the platform' };
    }, function () { return frameByName(d.target); });
  }

  function putData(key, value) {
    return storageFrame('lti.put_data').then(function (frame) {
      return send(frame, { subject: 'lti.put_data', key: key, value: value }, platformOrigin, false);
    });
  }

  function getData(key) {
    return storageFrame('lti.get_data').then(function (frame) {
      return send(frame, { subject: 'lti.get_data', key: key }, platformOrigin, false);
    }).then(function (answer) { return answer.value; });
  }

  if (d.mode === 'put') {
    // Login: keep the browser secret in the platform frame, then go on to the platform's
    // authentication endpoint whatever happened (the cookie may still work).
    var go = function () { window.location.replace(d.next); };
    if (!parentWindow || parentWindow === window) { go(); return; }
    putData(d.key, d.value).then(go, go);
  } else if (d.mode === 'get') {
    // Launch: read the secret back and post the launch again with it.
    var form = document.getElementById('cairn-relay');
    var finish = function (field, value) {
      var input = document.createElement('input');
      input.type = 'hidden'; input.name = field; input.value = value;
      form.appendChild(input);
      form.submit();
    };
    if (!parentWindow || parentWindow === window) { finish('lti_storage_error', 'no_parent'); return; }
    getData(d.key).then(function (value) {
      if (typeof value === 'string' && value) finish('lti_storage_value', value); else finish('lti_storage_error', 'not_found');
    }, function (error) { finish('lti_storage_error', (error && error.code) || 'failed'); });
  }
})();
`;

/** Dynamic Registration ends by asking the platform to close its registration window (DR 1.0 §3.6). */
const close = String.raw`(function () {
  'use strict';
  var target = window.opener || window.parent;
  if (target && target !== window) target.postMessage({ subject: 'org.imsglobal.lti.close' }, '*');
})();
`;

const autopost = String.raw`(function () {
  'use strict';
  var form = document.getElementById('cairn-autopost');
  if (form) form.submit();
})();
`;

export const browserScripts: Readonly<Record<string, string>> = {
  'storage.js': storage,
  'close.js': close,
  'autopost.js': autopost,
};
