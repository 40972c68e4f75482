/** Module boundaries (../shared/style.md practice 11): the registry client stays independent. */
module.exports = {
  forbidden: [
    {
      name: 'registry-is-a-leaf',
      comment: 'src/registry imports nothing from api, services, storage, engine or cli',
      severity: 'error',
      from: { path: '^src/registry' },
      to: { path: '^src/(api|sync|replication|inventory|iam|storage|engine|cli|config)' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'src-not-test',
      severity: 'error',
      from: { path: '^src', pathNot: '\\.test\\.ts$' },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
