import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPasswordHasher } from './hasher.js';
import { hashHead, kindOf, legacyDigest, parseImportedHash, parseWrapped } from './legacy-hashes.js';

/*
 * Imported hashes (docs/adr/011): known vectors from the systems that wrote them, each parsed,
 * recomputed from its password, wrapped under argon2id and verified through the hasher.
 * The Django and PBKDF2 vectors come from python3's hashlib.pbkdf2_hmac (Django's own
 * primitive); the bcrypt one "U*U" is the crypt_blowfish / OpenBSD test vector.
 */

const password = 'lètmein correct horse';

const vectors: { name: string; hash: string; password: string; head: string }[] = [
  { name: 'bcrypt $2a$ (crypt_blowfish test vector)', hash: '$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW', password: 'U*U', head: '$tessera-wrap$bcrypt$c=5' },
  // Written by @node-rs/bcrypt; the $2y$ (PHP) and $2a$ spellings of the same hash verify alike.
  { name: 'bcrypt $2b$', hash: '$2b$05$x7hm8QA6CKts.Tm0TaXfJ.CZ9DGOz.MmEIzkm50ljYu4J0wksRd.m', password: 'imported secret', head: '$tessera-wrap$bcrypt$c=5' },
  { name: 'Django bcrypt$ (plain bcrypt)', hash: 'bcrypt$$2b$05$x7hm8QA6CKts.Tm0TaXfJ.CZ9DGOz.MmEIzkm50ljYu4J0wksRd.m', password: 'imported secret', head: '$tessera-wrap$bcrypt$c=5' },
  { name: 'bcrypt $2y$', hash: '$2y$05$x7hm8QA6CKts.Tm0TaXfJ.CZ9DGOz.MmEIzkm50ljYu4J0wksRd.m', password: 'imported secret', head: '$tessera-wrap$bcrypt$c=5' },
  {
    name: 'Django pbkdf2_sha256',
    hash: 'pbkdf2_sha256$20000$seasalt2024$uYOY0778iSRCPb8ikLr2LTYeRWCkPkVJqDkKIUwctgU=',
    password,
    head: '$tessera-wrap$pbkdf2-sha256$i=20000,l=32',
  },
  { name: 'Django pbkdf2_sha1', hash: 'pbkdf2_sha1$20000$seasalt2024$EbMKerZ5mESw0Y7UqfyYGhjmBN4=', password, head: '$tessera-wrap$pbkdf2-sha1$i=20000,l=20' },
  {
    name: 'Keycloak pbkdf2-sha256 (64-byte key) in PHC form',
    hash: '$pbkdf2-sha256$27500$AAECAwQFBgcICQoLDA0ODw$0Q4lDBA1ABWz.9wCy0AQ/QHqtKz9MSinviyxqOoHCHS5Ndb6zbyBwnMvSEsn3ofpVgh1ipzmxisZVKPLLF/gOA',
    password,
    head: '$tessera-wrap$pbkdf2-sha256$i=27500,l=64',
  },
  {
    name: 'passlib pbkdf2-sha512',
    hash: '$pbkdf2-sha512$10000$AAECAwQFBgcICQoLDA0ODw$9e3SNdk8AdN6Btk19MXQfNyXqsIpJ51y5SSgygkCNTZZsGIzO4zS65EHM6PFXJCJ89l.hPVxNo30av6rpG9zEA',
    password,
    head: '$tessera-wrap$pbkdf2-sha512$i=10000,l=64',
  },
  { name: 'passlib pbkdf2 (SHA-1)', hash: '$pbkdf2$10000$AAECAwQFBgcICQoLDA0ODw$7tmsgqttYfZOLbUX3gmEIoLDkas', password, head: '$tessera-wrap$pbkdf2-sha1$i=10000,l=20' },
];

describe('imported password hashes', () => {
  const hasher = createPasswordHasher();

  for (const vector of vectors) {
    it(`${vector.name}: recomputed from the password, wrapped, verified, asks for a rehash`, async () => {
      const parsed = parseImportedHash(vector.hash);
      assert.ok(parsed?.type === 'legacy', 'a legacy hash');
      const { legacy } = parsed;
      assert.equal(await legacyDigest(legacy, vector.password), legacy.digest, 'the digest recomputed from the password');
      assert.notEqual(await legacyDigest(legacy, `${vector.password}!`), legacy.digest);

      const stored = await hasher.wrap(legacy);
      assert.ok(stored.startsWith(`${vector.head}$`), stored);
      assert.equal(hashHead(stored), vector.head);
      assert.ok(!stored.includes(legacy.digest) && !stored.includes(vector.hash.slice(-20)), 'no legacy digest is stored');
      assert.match(stored, /\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      assert.ok(parseWrapped(stored));
      assert.equal(await hasher.verify(stored, vector.password), true);
      assert.equal(await hasher.verify(stored, `${vector.password}!`), false);
      assert.equal(await hasher.verify(stored, ''), false);
      assert.equal(hasher.needsRehash(stored), true);
      assert.ok(kindOf(vector.head), 'the head names a kind');
    });
  }

  it('keeps imported argon2id PHC hashes as they are (also Django\'s argon2$ form)', async () => {
    const keycloak = '$argon2id$v=19$m=7168,t=5,p=1$a2V5Y2xvYWstc2FsdC0xNg$yUY8DYovEPiclANHikGE324Mu141CyVwhGc8ikrEg6M';
    for (const text of [keycloak, `argon2${keycloak}`]) {
      const parsed = parseImportedHash(text);
      assert.deepEqual(parsed, { type: 'argon2id', phc: keycloak });
    }
    assert.equal(await hasher.verify(keycloak, password), true);
    assert.equal(await hasher.verify(keycloak, 'wrong'), false);
    assert.equal(hasher.needsRehash(keycloak), true, 'other parameters than ours');
    assert.equal(hashHead(keycloak), '$argon2id$v=19$m=7168,t=5,p=1');
  });

  it('refuses every other format and every parameter out of bounds', () => {
    const salt22 = 'CCCCCCCCCCCCCCCCCCCCC.';
    const digest31 = 'E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW';
    const refused: [string, string][] = [
      ['empty', ''],
      ['plaintext', 'correct horse battery staple'],
      ['bcrypt $2x$ (the buggy crypt_blowfish)', `$2x$05$${salt22}${digest31}`],
      ['bcrypt cost 3', `$2b$03$${salt22}${digest31}`],
      ['bcrypt cost 17', `$2b$17$${salt22}${digest31}`],
      ['bcrypt truncated', `$2b$10$${salt22}${digest31.slice(1)}`],
      ['Django iterations under 1 000', 'pbkdf2_sha256$999$seasalt$uYOY0778iSRCPb8ikLr2LTYeRWCkPkVJqDkKIUwctgU='],
      ['Django iterations over 5 000 000', 'pbkdf2_sha256$5000001$seasalt$uYOY0778iSRCPb8ikLr2LTYeRWCkPkVJqDkKIUwctgU='],
      ['Django digest of 8 bytes', 'pbkdf2_sha256$20000$seasalt$AAAAAAAAAAA='],
      ['Django digest not base64', 'pbkdf2_sha256$20000$seasalt$not*base64'],
      ['Django unsalted sha1', 'sha1$$2fd4e1c67a2d28fced849ee1bb76e7391b93eb12'],
      ['Django bcrypt_sha256', `bcrypt_sha256$$2b$12$${salt22}${digest31}`],
      ['PBKDF2 sha256 with 128-byte key at 5M iterations (4 blocks)', `$pbkdf2-sha256$2000000$AAECAwQFBgcICQoLDA0ODw$${'A'.repeat(171)}`],
      ['argon2i', '$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA'],
      ['argon2d', '$argon2d$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA'],
      ['argon2id version 16', '$argon2id$v=16$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA'],
      ['argon2id 1 GiB', '$argon2id$v=19$m=1048576,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA'],
      ['argon2id 64 KiB', '$argon2id$v=19$m=64,t=3,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA'],
      ['argon2id t=100', '$argon2id$v=19$m=19456,t=100,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA'],
      ['argon2id short salt', '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA'],
      ['Firebase scrypt', '$scrypt$ln=14,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2g'],
      ['MD5 crypt', '$1$saltsalt$qjXMvbEw8oaL.CzflDugX/'],
      ['SHA-512 crypt', '$6$saltsalt$' + 'a'.repeat(86)],
      ['a wrapped hash (only Tessera writes those)', `$tessera-wrap$bcrypt$c=5$AAECAwQFBgcICQoLDA0ODw$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA`],
      ['too long', `pbkdf2_sha256$20000$${'s'.repeat(2000)}$uYOY0778iSRCPb8ikLr2LTYeRWCkPkVJqDkKIUwctgU=`],
    ];
    for (const [label, text] of refused) assert.equal(parseImportedHash(text), undefined, label);
  });

  it('names kinds by scheme and parameters only, and refuses heads out of bounds', () => {
    assert.equal(kindOf('$tessera-wrap$bcrypt$c=12')?.estimate, 4096);
    assert.equal(kindOf('$tessera-wrap$pbkdf2-sha256$i=600000,l=32')?.estimate, 600_000);
    assert.equal(kindOf('$tessera-wrap$pbkdf2-sha256$i=27500,l=64')?.estimate, 55_000, 'two blocks');
    assert.equal(kindOf('$argon2id$v=19$m=65536,t=3,p=4')?.estimate, 196_608);
    assert.equal(kindOf('$2b$10')?.family, 'raw-bcrypt');
    for (const head of ['$tessera-wrap$bcrypt$c=40', '$tessera-wrap$bcrypt$i=1000,l=32', '$tessera-wrap$md5$c=5', '$tessera-wrap$pbkdf2-sha1$i=9000000,l=20', '$argon2id$v=19$m=9999999,t=1,p=1']) {
      assert.equal(kindOf(head), undefined, head);
    }
  });
});
