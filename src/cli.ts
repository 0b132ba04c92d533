/** CLI entry: `memdelta compare | probe | render`. */
console.error('memdelta: not implemented yet');
process.exitCode = 2;
