import { Global, Module } from '@nestjs/common';
import { KILN_CONFIG, KilnConfig } from '../config/config';
import { FsObjectStore } from './fs-object-store';
import { OBJECT_STORE, ObjectStore } from './object-store';
import { S3ObjectStore } from './s3-object-store';
import { ContentStore } from './content-store';

export function createObjectStore(config: KilnConfig): ObjectStore {
  const s = config.storage;
  return s.driver === 'fs' ? new FsObjectStore(s.dir) : new S3ObjectStore(s);
}

@Global()
@Module({
  providers: [
    {
      provide: OBJECT_STORE,
      inject: [KILN_CONFIG],
      useFactory: async (config: KilnConfig) => {
        const store = createObjectStore(config);
        await store.init();
        return store;
      },
    },
    ContentStore,
  ],
  exports: [OBJECT_STORE, ContentStore],
})
export class StorageModule {}
