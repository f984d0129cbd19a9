import { MemoryIncidentStore } from '../../../functions/adapters/local/memory-store.js';
import { incidentStoreContract } from '../incident-store-contract.js';

incidentStoreContract('MemoryIncidentStore', (clock) => new MemoryIncidentStore({ clock }));
