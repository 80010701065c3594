import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from './load.js';
import { envSchema, settings, settingsOf } from './schema.js';

const all = settingsOf(settings);

function deeplyFrozen(value: unknown, path = 'config'): string[] {
  if (value === null || typeof value !== 'object') return [];
  return [...(Object.isFrozen(value) ? [] : [path]), ...Object.entries(value).flatMap(([key, member]) => deeplyFrozen(member, `${path}.${key}`))];
}

describe('config schema', () => {
  it('gives every variable one setting, a description and a documented default', () => {
    const variables = all.map(({ setting }) => setting.variable);
    assert.ok(variables.includes('PORT') && variables.includes('TESSERA_LOCKOUT_THRESHOLD'), 'nested groups are walked');
    // Two settings on one variable would collapse into one parser in envSchema.
    assert.deepEqual([...new Set(variables)], variables);
    assert.deepEqual(Object.keys(envSchema.shape), variables);
    for (const { setting } of all) {
      assert.match(setting.variable, /^[A-Z][A-Z0-9_]*$/);
      assert.match(setting.description, /\S.*[.)]$/, `${setting.variable} has a description`);
      assert.notEqual(setting.defaultText.trim(), '', `${setting.variable} documents its default`);
    }
  });

  it('applies the default it documents', () => {
    const defaults = parseConfig({}, { fallbackSecret: 'a'.repeat(32) });
    for (const { path, setting } of all) {
      if (setting.default === undefined) continue;
      assert.equal(setting.defaultText, `\`${setting.default}\``, setting.variable);
      const explicit = parseConfig({ [setting.variable]: setting.default }, { fallbackSecret: 'a'.repeat(32) });
      const read = (config: object) => path.reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], config);
      assert.deepEqual(read(explicit), read(defaults), setting.variable);
    }
  });

  it('builds a Config frozen all the way down, the bootstrap admin included', () => {
    const config = parseConfig({
      TESSERA_SECRET: 'a'.repeat(32),
      TESSERA_BOOTSTRAP_ADMIN: 'admin:correct horse battery staple',
      TESSERA_TRUST_PROXY: '10.0.0.0/8',
      TESSERA_CORS_ORIGINS: 'https://app.example.com',
      TESSERA_DETECTION_EXEMPT: '::1',
    });
    assert.deepEqual(deeplyFrozen(config), []);
  });
});
