/**
 * Cairn's SCORM player shell, served by the content origin beside the package's files.
 *
 * It loads scorm-again (`window.API` for SCORM 1.2, `window.API_1484_11` for 2004), fetches the
 * registration's state, loads each SCO's prior CMI *before* the SCO's frame is pointed at it,
 * and delivers SCOs in a same-origin iframe. Commits go to the runtime endpoints under the
 * session token (`/r/<token>/…`), the final one by sendBeacon. SCORM 2004 packages with more
 * than one SCO or with sequencing run scorm-again's sequencing engine with the settings the
 * server translated from the manifest; the player only delivers what the engine chooses.
 *
 * A plain script (no modules): it runs after scorm-again's own bundle, which defines
 * `Scorm12API` / `Scorm2004API` as globals.
 */

interface ScormApi {
  settings: Record<string, unknown>;
  loadFromJSON(json: Record<string, unknown>, element?: string): void;
  reset(settings?: Record<string, unknown>, options?: { preserveListeners?: boolean }): void;
  on(event: string, callback: (...args: unknown[]) => void): void;
  throwSCORMError(element: string, code: number, message?: string): void;
  isInitialized(): boolean;
  isTerminated(): boolean;
  GetValue?(element: string): string;
  SetValue?(element: string, value: string): string;
  Terminate?(parameter: string): string;
  LMSGetValue?(element: string): string;
  LMSFinish?(parameter: string): string;
  [method: string]: unknown;
}

interface Scorm2004Api extends ScormApi {
  processNavigationRequest(request: string, target?: string): boolean;
  serializeSequencingState(): string;
  deserializeSequencingState(state: string): boolean;
  restoreGlobalObjectiveSnapshot(snapshot: Record<string, unknown>): void;
  restoreSharedDataSnapshot(snapshot: Record<string, string>): void;
  captureSharedDataSnapshot(): Record<string, string>;
  renderCommitObject(terminate: boolean): { globalObjectives?: Record<string, unknown> };
  getActivityTrackingData(id: string): { completionStatus: string; successStatus: string; score: number | null } | null;
}

type ApiConstructor = new (settings: Record<string, unknown>) => ScormApi;

interface TocItem {
  identifier: string;
  title: string;
  visible: boolean;
  launchable: boolean;
  launch_url: string | null;
  hide_lms_ui: string[];
  children: TocItem[];
}

interface PlayerState {
  scorm_version: string;
  family: '1.2' | '2004';
  title: string;
  mode: string;
  learner: { id: string; name: string };
  attempt: { id: string; number: number; status: string };
  organization: { identifier: string; title: string; items: TocItem[] };
  start_item: string | null;
  scos: Array<{ identifier: string; completion_status: string; success_status: string }>;
  sequencing: null | {
    settings: Record<string, unknown>;
    global_objective_ids: string[];
    state: string | null;
    global_objectives: Record<string, unknown>;
    shared_data: Record<string, string>;
  };
}

interface SessionStart {
  session_id: string;
  entry: string;
  cmi: Record<string, unknown>;
  commit_url_path: string;
}

interface PlayerConfig {
  runtime: string;
  content: string;
}

(() => {
  const configElement = document.getElementById('cairn-player-config');
  const config = JSON.parse(configElement?.textContent ?? '{}') as PlayerConfig;
  const frame = document.getElementById('cairn-content') as HTMLIFrameElement;
  const toc = document.getElementById('cairn-toc') as HTMLElement;
  const statusLine = document.getElementById('cairn-status') as HTMLElement;
  const buttons = {
    previous: document.getElementById('cairn-previous') as HTMLButtonElement,
    continue: document.getElementById('cairn-continue') as HTMLButtonElement,
    suspend: document.getElementById('cairn-suspend') as HTMLButtonElement,
    exit: document.getElementById('cairn-exit') as HTMLButtonElement,
  };
  const w = window as unknown as Record<string, unknown>;

  let state: PlayerState;
  let api: ScormApi | undefined;
  let current: TocItem | undefined;
  let sequenced = false;
  let delivering: Promise<void> = Promise.resolve();
  const items: TocItem[] = [];
  const byId = new Map<string, TocItem>();
  const progress = new Map<string, string>();

  const say = (text: string) => {
    statusLine.textContent = text;
    document.body.dataset['playerStatus'] = text;
  };

  async function call(path: string, method: 'GET' | 'POST' | 'PUT', body?: unknown): Promise<Response> {
    const init: RequestInit = { method, credentials: 'omit', cache: 'no-store' };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { 'Content-Type': 'application/json' };
    }
    return fetch(config.runtime + path, init);
  }

  /** SCORM's "general" failures: 1.2 General Exception, 2004 General Initialization Failure / Commit Failure. */
  function failureCodes(family: '1.2' | '2004') {
    return family === '1.2' ? { init: 101, commit: 101 } : { init: 102, commit: 391 };
  }

  function settingsFor(family: '1.2' | '2004'): Record<string, unknown> {
    const codes = failureCodes(family);
    return {
      autocommit: true,
      autocommitSeconds: 30,
      includeCommitSequence: true,
      terminateCommitPayloadField: 'terminate',
      logLevel: 4,
      lmsCommitUrl: false,
      mastery_override: false,
      xhrResponseHandler: (xhr: XMLHttpRequest) => {
        if (xhr.status >= 200 && xhr.status < 300) {
          try {
            const parsed = JSON.parse(xhr.responseText) as { result?: string; errorCode?: number };
            return { result: parsed.result ?? 'true', errorCode: parsed.errorCode ?? 0 };
          } catch {
            return { result: 'true', errorCode: 0 };
          }
        }
        say(xhr.status === 401 || xhr.status === 403 ? 'Your session has ended; progress can no longer be saved. Launch the item again.' : 'Saving progress failed.');
        return { result: 'false', errorCode: codes.commit, errorMessage: `HTTP ${xhr.status}` };
      },
    };
  }

  function constructorFor(family: '1.2' | '2004'): ApiConstructor {
    const ctor = (family === '1.2' ? w['Scorm12API'] : w['Scorm2004API']) as ApiConstructor | undefined;
    if (!ctor) throw new Error('scorm-again did not load');
    return ctor;
  }

  function install(instance: ScormApi): void {
    api = instance;
    if (state.family === '1.2') w['API'] = instance;
    else w['API_1484_11'] = instance;
  }

  /**
   * The runtime refused the session (token expired or attempt ended): the SCO still finds an
   * API, but Initialize answers "false" with the SCORM error, as the RTE requires.
   */
  function installFailedApi(reason: string): void {
    const family = state.family;
    const instance = new (constructorFor(family))(settingsFor(family));
    const code = failureCodes(family).init;
    const fail = () => {
      instance.throwSCORMError('api', code, reason);
      return 'false';
    };
    if (family === '1.2') instance['LMSInitialize'] = fail;
    else instance['Initialize'] = fail;
    install(instance);
    say(reason);
  }

  function walk(list: TocItem[], depth: number, into: HTMLElement): void {
    const ul = document.createElement('ul');
    for (const item of list) {
      if (!item.visible) continue;
      const li = document.createElement('li');
      if (item.launchable) {
        const button = document.createElement('button');
        button.type = 'button';
        button.textContent = item.title;
        button.dataset['item'] = item.identifier;
        button.addEventListener('click', () => navigate('choice', item.identifier));
        li.appendChild(button);
      } else {
        const span = document.createElement('span');
        span.textContent = item.title;
        li.appendChild(span);
      }
      if (item.children.length > 0) walk(item.children, depth + 1, li);
      ul.appendChild(li);
    }
    into.appendChild(ul);
  }

  function collect(list: TocItem[]): void {
    for (const item of list) {
      byId.set(item.identifier, item);
      if (item.launchable) items.push(item);
      collect(item.children);
    }
  }

  function refreshToc(choice?: Record<string, string>): void {
    for (const button of Array.from(toc.querySelectorAll<HTMLButtonElement>('button[data-item]'))) {
      const id = button.dataset['item'] ?? '';
      button.setAttribute('aria-current', current?.identifier === id ? 'page' : 'false');
      const status = progress.get(id);
      button.dataset['status'] = status ?? '';
      if (choice) button.disabled = choice[id] === 'false';
    }
  }

  function refreshFlowButtons(): void {
    if (sequenced) return;
    const index = current ? items.indexOf(current) : -1;
    buttons.previous.disabled = index <= 0;
    buttons.continue.disabled = index < 0 || index >= items.length - 1;
  }

  function applyHide(hide: string[]): void {
    buttons.previous.hidden = hide.includes('previous');
    buttons.continue.hidden = hide.includes('continue');
    buttons.exit.hidden = hide.includes('exit') || hide.includes('exitAll');
    buttons.suspend.hidden = hide.includes('suspendAll');
  }

  /** Unloads the running SCO; its unload handler terminates it (and sends the final beacon). */
  async function unloadCurrent(): Promise<void> {
    if (!api || !api.isInitialized() || api.isTerminated()) {
      frame.src = 'about:blank';
      return;
    }
    frame.src = 'about:blank';
    for (let i = 0; i < 20 && api.isInitialized() && !api.isTerminated(); i++) await new Promise((r) => setTimeout(r, 50));
    // Content that never terminates on unload: end its session for it, so its data is sent.
    if (api.isInitialized() && !api.isTerminated()) {
      if (state.family === '1.2') api.LMSFinish?.('');
      else api.Terminate?.('');
    }
  }

  /** Opens the SCO's session (prior CMI in hand) and only then points the frame at it. */
  async function deliver(item: TocItem): Promise<void> {
    const res = await call(`scos/${encodeURIComponent(item.identifier)}/sessions`, 'POST', {});
    current = item;
    refreshToc();
    refreshFlowButtons();
    applyHide(item.hide_lms_ui);
    if (!res.ok) {
      installFailedApi(res.status === 401 || res.status === 403 ? 'This launch is no longer valid; launch the item again from the course.' : 'The SCO could not be started.');
      frame.src = config.content + (item.launch_url ?? '');
      return;
    }
    const session = (await res.json()) as SessionStart;
    const commitUrl = config.runtime + session.commit_url_path;
    if (sequenced && api) {
      api.reset({ lmsCommitUrl: commitUrl }, { preserveListeners: true });
    } else {
      install(new (constructorFor(state.family))({ ...settingsFor(state.family), lmsCommitUrl: commitUrl }));
      watch(api!);
    }
    api!.loadFromJSON(session.cmi);
    document.body.dataset['entry'] = session.entry;
    say(`${item.title}`);
    frame.src = config.content + (item.launch_url ?? '');
  }

  function watch(instance: ScormApi): void {
    const finished = () => {
      const id = current?.identifier;
      if (!id) return;
      const status = state.family === '1.2' ? instance.LMSGetValue?.('cmi.core.lesson_status') : undefined;
      if (status) progress.set(id, status);
      refreshToc();
    };
    instance.on(state.family === '1.2' ? 'LMSFinish' : 'Terminate', () => {
      finished();
      if (sequenced) void saveSequencing();
    });
    instance.on(state.family === '1.2' ? 'LMSCommit' : 'Commit', () => {
      if (sequenced) void saveSequencing();
    });
  }

  async function saveSequencing(): Promise<void> {
    const seqApi = api as Scorm2004Api | undefined;
    if (!seqApi || !state.sequencing) return;
    const root = seqApi.getActivityTrackingData(state.organization.identifier);
    const body = {
      state: seqApi.serializeSequencingState(),
      global_objectives: seqApi.renderCommitObject(false).globalObjectives ?? {},
      shared_data: seqApi.captureSharedDataSnapshot?.() ?? {},
      rollup: root ? {
        completion_status: ['completed', 'incomplete', 'not attempted'].includes(root.completionStatus) ? root.completionStatus : 'unknown',
        success_status: ['passed', 'failed'].includes(root.successStatus) ? root.successStatus : 'unknown',
        score_scaled: root.score,
      } : null,
    };
    await call('sequencing', 'PUT', body).catch(() => undefined);
  }

  async function endSession(reason: 'suspend' | 'exit', message: string): Promise<void> {
    await unloadCurrent();
    if (sequenced) await saveSequencing();
    const body = JSON.stringify({ reason });
    const ok = navigator.sendBeacon(`${config.runtime}exit`, new Blob([body], { type: 'text/plain;charset=UTF-8' }));
    if (!ok) await call('exit', 'POST', { reason }).catch(() => undefined);
    current = undefined;
    refreshToc();
    for (const b of Object.values(buttons)) b.disabled = true;
    say(message);
    document.body.dataset['ended'] = reason;
  }

  /** Learner navigation from the player's own controls. */
  function navigate(request: 'continue' | 'previous' | 'choice', target?: string): void {
    delivering = delivering.then(async () => {
      if (sequenced) {
        await unloadCurrent();
        const seqApi = api as Scorm2004Api;
        if (!seqApi.processNavigationRequest(request, target)) say('That navigation is not allowed here.');
        return;
      }
      const index = current ? items.indexOf(current) : -1;
      const next = request === 'choice' ? byId.get(target ?? '') : request === 'continue' ? items[index + 1] : items[index - 1];
      if (!next) return;
      await unloadCurrent();
      await deliver(next);
    }).catch((error: unknown) => say(`Navigation failed: ${String(error)}`));
  }

  function startSequencing(): void {
    const seq = state.sequencing!;
    const instance = new (constructorFor('2004'))({
      ...settingsFor('2004'),
      globalObjectiveIds: seq.global_objective_ids,
      sequencing: {
        ...seq.settings,
        eventListeners: {
          onActivityDelivery: (activity: { id: string }) => {
            const item = byId.get(activity.id);
            if (!item) return;
            // Deferred: the engine calls this from inside the SCO's Terminate.
            setTimeout(() => { delivering = delivering.then(() => deliver(item)).then(() => saveSequencing()); }, 0);
          },
          onNavigationValidityUpdate: (v: { continue: boolean; previous: boolean; choice: Record<string, string>; hideLmsUi: string[] }) => {
            buttons.continue.disabled = !v.continue;
            buttons.previous.disabled = !v.previous;
            refreshToc(v.choice);
            applyHide(v.hideLmsUi);
          },
          onSequencingSessionEnd: (data: { reason: string }) => {
            const suspended = /suspend/i.test(data.reason);
            setTimeout(() => {
              delivering = delivering.then(() => endSession(suspended ? 'suspend' : 'exit', suspended ? 'Your place is saved. You can close this window.' : 'You have finished. You can close this window.'));
            }, 0);
          },
        },
      },
    }) as Scorm2004Api;
    install(instance);
    watch(instance);
    if (Object.keys(seq.global_objectives).length > 0) instance.restoreGlobalObjectiveSnapshot(seq.global_objectives);
    if (Object.keys(seq.shared_data).length > 0) instance.restoreSharedDataSnapshot?.(seq.shared_data);
    let request = 'start';
    if (seq.state && instance.deserializeSequencingState(seq.state)) {
      const parsed = JSON.parse(seq.state) as { sequencing?: { suspendedActivity?: string | null } };
      request = parsed.sequencing?.suspendedActivity ? 'resumeAll' : 'start';
    }
    if (!instance.processNavigationRequest(request) && request === 'resumeAll') instance.processNavigationRequest('start');
  }

  async function main(): Promise<void> {
    const res = await call('state', 'GET');
    if (!res.ok) {
      say(res.status === 401 || res.status === 403 ? 'This launch is no longer valid; launch the item again from the course.' : 'The player could not load.');
      document.body.dataset['failed'] = String(res.status);
      return;
    }
    state = (await res.json()) as PlayerState;
    document.title = state.title;
    (document.getElementById('cairn-title') as HTMLElement).textContent = state.title;
    collect(state.organization.items);
    for (const s of state.scos) progress.set(s.identifier, s.success_status !== 'unknown' ? s.success_status : s.completion_status);
    walk(state.organization.items, 0, toc);
    toc.hidden = items.length <= 1;
    buttons.previous.addEventListener('click', () => navigate('previous'));
    buttons.continue.addEventListener('click', () => navigate('continue'));
    buttons.suspend.addEventListener('click', () => {
      delivering = delivering.then(() => (sequenced ? suspendSequenced() : endSession('suspend', 'Your place is saved. You can close this window.')));
    });
    buttons.exit.addEventListener('click', () => {
      delivering = delivering.then(() => (sequenced ? exitSequenced() : endSession('exit', 'You have finished. You can close this window.')));
    });
    sequenced = state.sequencing !== null;
    if (sequenced) {
      startSequencing();
      return;
    }
    const first = (state.start_item ? byId.get(state.start_item) : undefined) ?? items[0];
    if (!first) {
      say('This package has nothing to launch.');
      return;
    }
    delivering = deliver(first);
  }

  async function suspendSequenced(): Promise<void> {
    await unloadCurrent();
    (api as Scorm2004Api).processNavigationRequest('suspendAll');
  }

  async function exitSequenced(): Promise<void> {
    await unloadCurrent();
    (api as Scorm2004Api).processNavigationRequest('exitAll');
  }

  // Leaving the page: the running SCO's own unload handler terminates it (beacon commit); a
  // sequenced course also keeps its activity-tree state.
  window.addEventListener('pagehide', () => {
    // Content that does not terminate itself on unload: end its session so the final commit
    // (sendBeacon) still carries what the learner did — closing the window must not lose data.
    if (api && api.isInitialized() && !api.isTerminated()) {
      if (state.family === '1.2') api.LMSFinish?.('');
      else api.Terminate?.('');
    }
    if (sequenced && api) {
      const seqApi = api as Scorm2004Api;
      const body = JSON.stringify({
        state: seqApi.serializeSequencingState(),
        global_objectives: seqApi.renderCommitObject(false).globalObjectives ?? {},
        shared_data: seqApi.captureSharedDataSnapshot?.() ?? {},
      });
      navigator.sendBeacon(`${config.runtime}sequencing`, new Blob([body], { type: 'text/plain;charset=UTF-8' }));
    }
  });

  main().catch((error: unknown) => say(`The player failed: ${String(error)}`));
})();
