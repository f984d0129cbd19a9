import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start real containerd daemons and synthesize the CDK app: give them room,
    // but keep them sequential per file so two daemons never fight over a CPU budget.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    allowOnly: false,
    passWithNoTests: false,
    reporters: ['default'],
  },
});
