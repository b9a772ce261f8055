/**
 * Runtime section of scripts/build-fixtures.ts: the SCORM packages the browser tests play
 * (test/scorm/browser*.test.ts). Written for Cairn; no third-party content. Each SCO is a small
 * page with a plain API-discovery wrapper (SCORM RTE "API discovery algorithm": walk up the
 * parents, then the opener) and buttons the tests click; it writes what it read from the LMS
 * into the page (`data-*` attributes) so the tests can assert what the SCO saw.
 */
import type { FixtureSpec } from './build-fixtures.js';
import { writeZip } from './zip-writer.js';

const wrapper = `// Minimal SCORM API wrapper for Cairn's fixture SCOs (1.2 and 2004).
(function () {
  function find(win, name) {
    var tries = 0;
    while (win && !win[name] && win.parent && win.parent !== win && tries++ < 10) win = win.parent;
    return win && win[name] ? win[name] : null;
  }
  var api2004 = find(window, 'API_1484_11') || (window.opener && find(window.opener, 'API_1484_11'));
  var api12 = api2004 ? null : (find(window, 'API') || (window.opener && find(window.opener, 'API')));
  var finished = false;
  var scorm = {
    version: api2004 ? '2004' : api12 ? '1.2' : 'none',
    init: function () {
      var ok = api2004 ? api2004.Initialize('') : api12 ? api12.LMSInitialize('') : 'false';
      var err = api2004 ? api2004.GetLastError() : api12 ? api12.LMSGetLastError() : '0';
      document.body.setAttribute('data-init', String(ok));
      document.body.setAttribute('data-init-error', String(err));
      return ok === 'true' || ok === true;
    },
    get: function (k) { return api2004 ? api2004.GetValue(k) : api12.LMSGetValue(k); },
    set: function (k, v) { return api2004 ? api2004.SetValue(k, String(v)) : api12.LMSSetValue(k, String(v)); },
    commit: function () {
      var ok = api2004 ? api2004.Commit('') : api12.LMSCommit('');
      document.body.setAttribute('data-commit', String(ok));
      document.body.setAttribute('data-commit-error', api2004 ? api2004.GetLastError() : api12.LMSGetLastError());
      return ok;
    },
    finish: function () {
      if (finished) return;
      finished = true;
      var ok = api2004 ? api2004.Terminate('') : api12.LMSFinish('');
      document.body.setAttribute('data-finished', String(ok));
    },
    finished: function () { return finished; }
  };
  window.scorm = scorm;
  // Content that is unloaded without a Finish button still ends its session (the final commit).
  window.addEventListener('pagehide', function () { if (document.body.getAttribute('data-init') === 'true') scorm.finish(); });
})();
`;

const page = (title: string, body: string, script: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<style>body{font-family:sans-serif;margin:1.5rem} button{margin:.3rem}</style>
<script src="scorm.js"></script></head>
<body><h1>${title}</h1>
${body}
<script>
${script}
</script>
</body></html>
`;

// SCORM 1.2 single-SCO quiz -------------------------------------------------------------------------

const quiz12Manifest = `<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="org.cairn.fixture.quiz12" version="1.0"
  xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">
  <metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>
  <organizations default="ORG-QUIZ">
    <organization identifier="ORG-QUIZ">
      <title>Capitals quiz (SCORM 1.2)</title>
      <item identifier="QUIZ" identifierref="RES-QUIZ">
        <title>Capitals quiz</title>
        <adlcp:masteryscore>60</adlcp:masteryscore>
        <adlcp:datafromlms>round=1</adlcp:datafromlms>
      </item>
    </organization>
  </organizations>
  <resources>
    <resource identifier="RES-QUIZ" type="webcontent" adlcp:scormtype="sco" href="quiz.html">
      <file href="quiz.html"/><file href="scorm.js"/>
    </resource>
  </resources>
</manifest>
`;

const quiz12 = page('Capitals quiz', `
<p id="who"></p>
<form id="quiz">
<fieldset><legend>Capital of France?</legend>
<label><input type="radio" name="q1" value="a"> Paris</label><label><input type="radio" name="q1" value="b"> Lyon</label></fieldset>
<fieldset><legend>Capital of Japan?</legend>
<label><input type="radio" name="q2" value="a"> Osaka</label><label><input type="radio" name="q2" value="b"> Tokyo</label></fieldset>
<fieldset><legend>Capital of Canada?</legend>
<label><input type="radio" name="q3" value="a"> Ottawa</label><label><input type="radio" name="q3" value="b"> Toronto</label></fieldset>
</form>
<button type="button" id="submit">Submit answers</button>
<p id="result"></p>`, `
if (scorm.init()) {
  document.body.setAttribute('data-entry', scorm.get('cmi.core.entry'));
  document.body.setAttribute('data-student-name', scorm.get('cmi.core.student_name'));
  document.body.setAttribute('data-student-id', scorm.get('cmi.core.student_id'));
  document.body.setAttribute('data-mastery', scorm.get('cmi.student_data.mastery_score'));
  document.body.setAttribute('data-launch-data', scorm.get('cmi.launch_data'));
  document.body.setAttribute('data-credit', scorm.get('cmi.core.credit'));
  document.body.setAttribute('data-mode', scorm.get('cmi.core.lesson_mode'));
  document.getElementById('who').textContent = 'Learner: ' + scorm.get('cmi.core.student_name');
  scorm.set('cmi.core.lesson_status', 'incomplete');
  scorm.commit();
}
var key = { q1: 'a', q2: 'b', q3: 'a' };
document.getElementById('submit').addEventListener('click', function () {
  var correct = 0, n = 0;
  ['q1', 'q2', 'q3'].forEach(function (q) {
    var picked = document.querySelector('input[name=' + q + ']:checked');
    var answer = picked ? picked.value : '';
    var ok = answer === key[q];
    if (ok) correct++;
    scorm.set('cmi.interactions.' + n + '.id', q);
    scorm.set('cmi.interactions.' + n + '.type', 'choice');
    scorm.set('cmi.interactions.' + n + '.student_response', answer);
    scorm.set('cmi.interactions.' + n + '.correct_responses.0.pattern', key[q]);
    scorm.set('cmi.interactions.' + n + '.result', ok ? 'correct' : 'wrong');
    n++;
  });
  var raw = Math.round(correct / 3 * 100);
  var mastery = Number(scorm.get('cmi.student_data.mastery_score') || '0');
  scorm.set('cmi.core.score.min', '0');
  scorm.set('cmi.core.score.max', '100');
  scorm.set('cmi.core.score.raw', String(raw));
  scorm.set('cmi.core.lesson_status', raw >= mastery ? 'passed' : 'failed');
  scorm.set('cmi.core.session_time', '00:02:30');
  scorm.set('cmi.core.exit', '');
  scorm.commit();
  scorm.finish();
  document.getElementById('result').textContent = 'Score ' + raw + ' (' + (raw >= mastery ? 'passed' : 'failed') + ')';
  document.body.setAttribute('data-done', String(raw));
});
`);

// SCORM 2004 4th edition, three SCOs with sequencing rules, a global objective and rollup ----------

const seqManifest = `<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="org.cairn.fixture.seq2004" version="1"
  xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3"
  xmlns:adlseq="http://www.adlnet.org/xsd/adlseq_v1p3"
  xmlns:adlnav="http://www.adlnet.org/xsd/adlnav_v1p3"
  xmlns:imsss="http://www.imsglobal.org/xsd/imsss">
  <metadata><schema>ADL SCORM</schema><schemaversion>2004 4th Edition</schemaversion></metadata>
  <organizations default="ORG-SEQ">
    <organization identifier="ORG-SEQ">
      <title>Safety course (SCORM 2004)</title>
      <item identifier="INTRO" identifierref="RES-INTRO">
        <title>Introduction</title>
        <imsss:sequencing>
          <imsss:rollupRules rollupObjectiveSatisfied="false"/>
        </imsss:sequencing>
      </item>
      <item identifier="LESSON" identifierref="RES-LESSON">
        <title>Lesson</title>
        <imsss:sequencing>
          <imsss:objectives>
            <imsss:primaryObjective objectiveID="lesson-mastered">
              <imsss:mapInfo targetObjectiveID="urn:cairn:fixture:lesson-mastered" writeSatisfiedStatus="true" readSatisfiedStatus="false"/>
            </imsss:primaryObjective>
          </imsss:objectives>
        </imsss:sequencing>
      </item>
      <item identifier="QUIZ" identifierref="RES-QUIZ">
        <title>Final quiz</title>
        <imsss:sequencing>
          <imsss:sequencingRules>
            <imsss:preConditionRule>
              <imsss:ruleConditions conditionCombination="any">
                <imsss:ruleCondition referencedObjective="lesson-prereq" operator="not" condition="objectiveStatusKnown"/>
                <imsss:ruleCondition referencedObjective="lesson-prereq" operator="not" condition="satisfied"/>
              </imsss:ruleConditions>
              <imsss:ruleAction action="disabled"/>
            </imsss:preConditionRule>
          </imsss:sequencingRules>
          <imsss:limitConditions attemptLimit="3"/>
          <imsss:objectives>
            <imsss:primaryObjective objectiveID="quiz-passed" satisfiedByMeasure="true">
              <imsss:minNormalizedMeasure>0.6</imsss:minNormalizedMeasure>
            </imsss:primaryObjective>
            <imsss:objective objectiveID="lesson-prereq">
              <imsss:mapInfo targetObjectiveID="urn:cairn:fixture:lesson-mastered" readSatisfiedStatus="true" writeSatisfiedStatus="false"/>
            </imsss:objective>
          </imsss:objectives>
        </imsss:sequencing>
      </item>
      <imsss:sequencing>
        <imsss:controlMode choice="true" flow="true"/>
      </imsss:sequencing>
    </organization>
  </organizations>
  <resources>
    <resource identifier="RES-INTRO" type="webcontent" adlcp:scormType="sco" href="intro.html"><file href="intro.html"/><file href="scorm.js"/></resource>
    <resource identifier="RES-LESSON" type="webcontent" adlcp:scormType="sco" href="lesson.html"><file href="lesson.html"/><file href="scorm.js"/></resource>
    <resource identifier="RES-QUIZ" type="webcontent" adlcp:scormType="sco" href="quiz.html"><file href="quiz.html"/><file href="scorm.js"/></resource>
  </resources>
</manifest>
`;

const sco2004 = (title: string, body: string, onNext: string) => page(title, `${body}
<button type="button" id="next">Next</button>`, `
if (scorm.init()) {
  document.body.setAttribute('data-entry', scorm.get('cmi.entry'));
  document.body.setAttribute('data-learner', scorm.get('cmi.learner_name'));
  document.body.setAttribute('data-scaled-passing', scorm.get('cmi.scaled_passing_score'));
}
document.getElementById('next').addEventListener('click', function () {
  ${onNext}
  scorm.set('cmi.session_time', 'PT45S');
  scorm.set('cmi.exit', 'normal');
  scorm.commit();
  scorm.finish();
});
`);

const seqIntro = sco2004('Introduction', '<p>Welcome to the safety course.</p>', `
  scorm.set('cmi.completion_status', 'completed');
  scorm.set('adl.nav.request', 'continue');`);

const seqLesson = sco2004('Lesson', '<p>Always wear a helmet.</p>', `
  scorm.set('cmi.completion_status', 'completed');
  scorm.set('cmi.success_status', 'passed');
  scorm.set('adl.nav.request', 'continue');`);

const seqQuiz = sco2004('Final quiz', `<p>Score to report:</p>
<label><input type="radio" name="score" value="0.9" checked> 90%</label>
<label><input type="radio" name="score" value="0.4"> 40%</label>`, `
  var scaled = document.querySelector('input[name=score]:checked').value;
  scorm.set('cmi.interactions.0.id', 'helmet');
  scorm.set('cmi.interactions.0.type', 'true-false');
  scorm.set('cmi.interactions.0.learner_response', scaled === '0.9' ? 'true' : 'false');
  scorm.set('cmi.interactions.0.correct_responses.0.pattern', 'true');
  scorm.set('cmi.interactions.0.result', scaled === '0.9' ? 'correct' : 'incorrect');
  scorm.set('cmi.score.scaled', scaled);
  scorm.set('cmi.score.raw', String(Math.round(Number(scaled) * 100)));
  scorm.set('cmi.score.min', '0');
  scorm.set('cmi.score.max', '100');
  scorm.set('cmi.completion_status', 'completed');
  scorm.set('adl.nav.request', 'exitAll');`);

// SCORM 1.2 suspend and resume, with suspend data beyond 1.2's 4,096 characters ------------------------

const resumeManifest = `<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="org.cairn.fixture.resume12" version="1.0"
  xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">
  <metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>
  <organizations default="ORG-BOOK">
    <organization identifier="ORG-BOOK">
      <title>Long read (SCORM 1.2)</title>
      <item identifier="BOOK" identifierref="RES-BOOK"><title>Long read</title></item>
    </organization>
  </organizations>
  <resources>
    <resource identifier="RES-BOOK" type="webcontent" adlcp:scormtype="sco" href="book.html">
      <file href="book.html"/><file href="scorm.js"/>
    </resource>
  </resources>
</manifest>
`;

const resumeBook = page('Long read', `
<p>Page <span id="page">1</span> of 3</p>
<button type="button" id="forward">Next page</button>
<button type="button" id="leave">Save and leave</button>
<button type="button" id="done">Finish</button>`, `
var pageNo = 1;
if (scorm.init()) {
  var entry = scorm.get('cmi.core.entry');
  document.body.setAttribute('data-entry', entry);
  var saved = scorm.get('cmi.suspend_data');
  document.body.setAttribute('data-suspend-length', String(saved.length));
  document.body.setAttribute('data-suspend-intact', String(saved.length === 0 || /^page=\\d;(x{5000})$/.test(saved)));
  var bookmark = scorm.get('cmi.core.lesson_location');
  document.body.setAttribute('data-location', bookmark);
  document.body.setAttribute('data-total-time', scorm.get('cmi.core.total_time'));
  if (entry === 'resume' && bookmark) pageNo = Number(bookmark);
  document.getElementById('page').textContent = String(pageNo);
}
document.getElementById('forward').addEventListener('click', function () {
  pageNo = Math.min(3, pageNo + 1);
  document.getElementById('page').textContent = String(pageNo);
  scorm.set('cmi.core.lesson_location', String(pageNo));
});
document.getElementById('leave').addEventListener('click', function () {
  scorm.set('cmi.core.lesson_location', String(pageNo));
  scorm.set('cmi.suspend_data', 'page=' + pageNo + ';' + new Array(5001).join('x'));
  scorm.set('cmi.core.lesson_status', 'incomplete');
  scorm.set('cmi.core.session_time', '00:01:00');
  scorm.set('cmi.core.exit', 'suspend');
  scorm.commit();
  scorm.finish();
  document.body.setAttribute('data-left', 'true');
});
document.getElementById('done').addEventListener('click', function () {
  scorm.set('cmi.core.lesson_status', 'completed');
  scorm.set('cmi.core.session_time', '00:02:00');
  scorm.set('cmi.core.exit', '');
  scorm.commit();
  scorm.finish();
  document.body.setAttribute('data-done', 'true');
});
`);

export const runtimeFixtures: FixtureSpec[] = [
  {
    file: 'runtime-scorm12-quiz.zip', expect: 'ready',
    purpose: 'Browser tests: SCORM 1.2 single-SCO quiz (three choice questions, masteryscore 60, datafromlms); records interactions, score and passed/failed, then LMSFinish.',
    build: () => writeZip([
      { name: 'imsmanifest.xml', data: quiz12Manifest, method: 8 },
      { name: 'quiz.html', data: quiz12, method: 8 },
      { name: 'scorm.js', data: wrapper, method: 8 },
    ]),
  },
  {
    file: 'runtime-scorm2004-sequenced.zip', expect: 'ready',
    purpose: 'Browser tests: SCORM 2004 4th Edition, three SCOs under flow+choice; the quiz is disabled (precondition rule: objective status unknown or not satisfied) until the lesson writes a satisfied global objective; the intro is excluded from satisfaction rollup; the quiz reports a scaled score and exits all.',
    build: () => writeZip([
      { name: 'imsmanifest.xml', data: seqManifest, method: 8 },
      { name: 'intro.html', data: seqIntro, method: 8 },
      { name: 'lesson.html', data: seqLesson, method: 8 },
      { name: 'quiz.html', data: seqQuiz, method: 8 },
      { name: 'scorm.js', data: wrapper, method: 8 },
    ]),
  },
  {
    file: 'runtime-scorm12-resume.zip', expect: 'ready',
    purpose: 'Browser tests: SCORM 1.2 SCO that suspends with lesson_location and 5,000+ characters of suspend_data (over 1.2\'s 4,096), then resumes and checks both came back whole.',
    build: () => writeZip([
      { name: 'imsmanifest.xml', data: resumeManifest, method: 8 },
      { name: 'book.html', data: resumeBook, method: 8 },
      { name: 'scorm.js', data: wrapper, method: 8 },
    ]),
  },
];
