// The house's floors, kept by `npm run lint` (depcruise): every import runs down a floor, never up,
// and no files import each other in a circle. docs/architecture.md draws the same floors.

/** shared/, from the ground up: each imports only what stands below it. */
const SHARED_FLOORS = [
  'core', // the invitation and record models, email addresses, limits, problems, signing, the log
  'settings.ts',
  'storage', // the table and the queue: rows, claims, counters
  'graph', // Graph and Entra: calls, errors, pacing, the sign-in circuit, the tenant's pause
  'mail', // our own invitation email and the mailbox's budget
  'batches', // the batch ledger and its reports
  'intake', // validation, policy, admission: a submission becomes records, batch rows and messages
  'lifecycle', // after the invitation: redemption, reminders, expiry, events and callbacks
  'records', // what follows a record's every change: its batch's copy and its caller's event
  'healthBoard.ts',
  'worker', // the queue's consumer: claim, invite, follow up
  'rosters', // partners' roster files
  'appDependencies.ts', // the wiring
];

const floorPath = (floor) => `^shared/${floor.replace(/\./g, '\\.')}${floor.endsWith('.ts') ? '$' : '/'}`;

const sharedFloorRules = SHARED_FLOORS.slice(0, -1).map((floor, index) => ({
  name: `shared-${floor.replace(/\.ts$/, '')}-imports-only-below`,
  comment: `shared/${floor} stands below ${SHARED_FLOORS.slice(index + 1).join(', ')}: it may not import them.`,
  severity: 'error',
  from: { path: floorPath(floor) },
  to: { path: SHARED_FLOORS.slice(index + 1).map(floorPath) },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Files that import each other in a circle cannot be read, tested or moved one at a time.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...sharedFloorRules,
    {
      name: 'a-capability-offers-through-its-index',
      comment:
        'A capability folder of shared/ says what it offers in its index.ts; other folders use that, not its files (tests may look inside).',
      severity: 'error',
      from: { path: '^shared/([^/]+)/' },
      to: { path: '^shared/[^/]+/', pathNot: ['^shared/$1/', '/index\\.ts$'] },
    },
    {
      name: 'the-app-uses-capabilities-through-their-index',
      comment: 'The functions, the wiring, the local host, the CLI and the benchmarks use a capability through its index.ts.',
      severity: 'error',
      from: { path: '^(functions|cli|local|bench|scripts|dashboard)/|^shared/[^/]+\\.ts$' },
      to: { path: '^shared/[^/]+/', pathNot: '/index\\.ts$' },
    },
    {
      name: 'shared-is-the-domain',
      comment: 'shared/ is free of the Functions runtime and of everything built on it: the functions, the local host, the CLI, the tests.',
      severity: 'error',
      from: { path: '^shared/' },
      to: { path: '^(functions|local|cli|bench|test|scripts|dashboard)/' },
    },
    {
      name: 'functions-ship-alone',
      comment: 'functions/ is what is deployed: it may not import development tooling (the local host, the emulator, benchmarks, tests).',
      severity: 'error',
      from: { path: '^functions/' },
      to: { path: '^(local|cli|bench|test|scripts)/' },
    },
    {
      name: 'cli-speaks-http',
      comment: "The CLI talks to a deployed app over HTTP: it may share the domain's types, never the app or its tooling.",
      severity: 'error',
      from: { path: '^cli/' },
      to: { path: '^(functions|local|bench|test|scripts)/' },
    },
    {
      name: 'local-serves-development',
      comment: 'The local host and the emulator are not imported by the benchmark-free code above them, nor by the deployed code.',
      severity: 'error',
      from: { path: '^(shared|functions|cli)/' },
      to: { path: '^local/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|\\.azurite|\\.local|coverage)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // Dynamic require() of the app after its settings are checked (functions/index.ts, local/start.ts) counts as an import.
    exoticRequireStrings: [],
    reporterOptions: {
      dot: { collapsePattern: '^(node_modules/[^/]+|shared/[^/]+|functions|local|cli|bench|test|scripts|dashboard)/' },
    },
  },
};
