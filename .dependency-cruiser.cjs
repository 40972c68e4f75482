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
      name: 'services-below-api',
      comment: 'services and storage never import the API or the CLI (routes call services)',
      severity: 'error',
      from: { path: '^src/(sync|iam|storage|replication|inventory|engine|registry|config|errors)' },
      to: { path: '^src/(api|cli)' },
    },
    {
      name: 'storage-is-low',
      comment: 'storage knows tables, not services or registries',
      severity: 'error',
      from: { path: '^src/storage' },
      to: { path: '^src/(sync|iam|replication|inventory|engine|registry)' },
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
